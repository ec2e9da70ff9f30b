// A stock Go consumer of the NeverMissCall topics, as another team would write it:
// franz-go (with its Schema Registry client) and hamba/avro, nothing from the platform's code.
//
//	go run . --bootstrap 127.0.0.1:9092 \
//	  --registry http://127.0.0.1:8081/apis/ccompat/v7 --group my-team --from-beginning
//
// Follows docs/consumers/README.md: subscribe with ^nmc\.[a-z]+$, decode the Confluent wire
// format (magic byte, 4-byte schema id, Avro) with the writer schema fetched by id, filter on the
// schema_version major before decoding, dedupe by event_id, per-key order (records of one
// partition are handled in order), commit after the effect. franz-go reads LZ4 natively, and its
// default partitioner agrees with Java's murmur2 for keyed records. Prints one JSON line per record.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

const domainTopics = `^nmc\.[a-z]+$`

var majors = map[string]bool{"1": true}

// schemas caches writer schemas by id (they never change once registered).
type schemas struct {
	client *sr.Client
	mu     sync.Mutex
	byID   map[int]avro.Schema
}

func (s *schemas) decode(ctx context.Context, value []byte) (map[string]any, error) {
	if len(value) < 5 || value[0] != 0 {
		return nil, errors.New("not in the Confluent wire format")
	}
	id := int(binary.BigEndian.Uint32(value[1:5]))
	s.mu.Lock()
	schema, ok := s.byID[id]
	s.mu.Unlock()
	if !ok {
		text, err := s.client.SchemaByID(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		if schema, err = avro.Parse(text.Schema); err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		s.mu.Lock()
		s.byID[id] = schema
		s.mu.Unlock()
	}
	out := map[string]any{}
	if err := avro.Unmarshal(schema, value[5:], &out); err != nil {
		return nil, err
	}
	return out, nil
}

func main() {
	bootstrap := flag.String("bootstrap", "", "Kafka bootstrap servers")
	registry := flag.String("registry", "", "Schema Registry URL (Confluent API)")
	group := flag.String("group", "", "consumer group")
	fromBeginning := flag.Bool("from-beginning", false, "a new group starts at the oldest records")
	idleExit := flag.Float64("idle-exit", 0, "exit after this many seconds without a record")
	flag.Parse()
	if *bootstrap == "" || *registry == "" || *group == "" {
		fmt.Fprintln(os.Stderr, "--bootstrap, --registry and --group are required")
		os.Exit(2)
	}
	reset := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*bootstrap, ",")...),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(domainTopics),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	srClient, err := sr.NewClient(sr.URLs(*registry))
	if err != nil {
		panic(err)
	}
	decoder := &schemas{client: srClient, byID: map[int]avro.Schema{}}
	seen := map[string]bool{} // a real consumer keeps these (or idempotent effects) durably
	last := time.Now()
	enc := json.NewEncoder(os.Stdout)
	for *idleExit <= 0 || time.Since(last).Seconds() < *idleExit {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := client.PollFetches(ctx)
		cancel()
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fmt.Fprintf(os.Stderr, "fetch %s[%d]: %v\n", topic, partition, err)
			}
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			last = time.Now()
			headers := map[string]string{}
			for _, h := range rec.Headers {
				headers[h.Key] = string(h.Value)
			}
			out := map[string]any{"topic": rec.Topic, "partition": rec.Partition,
				"offset": rec.Offset, "key": string(rec.Key),
				"event_id": headers["event_id"], "event_name": headers["event_name"]}
			switch {
			case !majors[strings.SplitN(headers["schema_version"], ".", 2)[0]]:
				out["skipped"] = "unknown major"
			case seen[headers["event_id"]]:
				out["duplicate"] = true
			default:
				seen[headers["event_id"]] = true
				event, err := decoder.decode(context.Background(), rec.Value)
				if err != nil { // never block the partition: dead-letter it (docs §11)
					out["error"] = err.Error()
					break
				}
				payload, _ := event["payload"].(map[string]any)
				fields := make([]string, 0, len(payload))
				for k := range payload {
					fields = append(fields, k)
				}
				sort.Strings(fields)
				out["payload_fields"] = fields
			}
			_ = enc.Encode(out)
			if err := client.CommitRecords(context.Background(), rec); err != nil {
				fmt.Fprintf(os.Stderr, "commit: %v\n", err)
			}
		})
	}
}
