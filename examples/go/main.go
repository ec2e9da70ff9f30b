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
// Runs until stopped, or with --exit-at-end until every assigned partition is read up to the end
// it had when the group assigned it (like kcat -e), or with --idle-exit N until N seconds pass
// without a record.
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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

type partition struct {
	topic string
	id    int32
}

// endOfAssignment serves --exit-at-end: each assigned partition's end offset (high watermark)
// when the group assigned it, and how far this consumer has read it. Records produced after that
// are left for the next run, so others writing all the time do not keep the consumer running.
type endOfAssignment struct {
	admin         *kgo.Client // asks the leaders for offsets (the group's client is not made yet)
	fromBeginning bool
	mu            sync.Mutex // the group's callbacks run beside the poll loop
	assigned      bool
	end           map[partition]int64
	position      map[partition]int64 // of the assigned partitions: the next offset to read
}

// started is given the offsets newly assigned partitions start from (the committed one, or the
// reset offset where none is) before any fetch: kgo.AdjustFetchOffsetsFn.
func (e *endOfAssignment) started(ctx context.Context, offsets map[string]map[int32]kgo.Offset,
) (map[string]map[int32]kgo.Offset, error) {
	ends, err := listOffsets(ctx, e.admin, offsets, -1) // -1: the end, -2: the start
	if err != nil {
		return nil, err
	}
	resets := ends
	if e.fromBeginning {
		if resets, err = listOffsets(ctx, e.admin, offsets, -2); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for topic, partitions := range offsets {
		for id, offset := range partitions {
			p := partition{topic, id}
			if _, known := e.end[p]; !known { // a rebalance does not move the end
				e.end[p] = ends[p]
			}
			e.position[p] = resets[p]
			if committed := offset.EpochOffset().Offset; committed >= 0 {
				e.position[p] = committed
			}
		}
	}
	e.assigned = true
	return offsets, nil
}

func (e *endOfAssignment) revoked(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for topic, ids := range lost {
		for _, id := range ids {
			delete(e.position, partition{topic, id})
		}
	}
}

// within moves this consumer's position past rec and says whether rec lies before the end
// (a record at or past it was produced after the assignment: it is left for the next run).
func (e *endOfAssignment) within(rec *kgo.Record) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := partition{rec.Topic, rec.Partition}
	if rec.Offset >= e.end[p] {
		e.position[p] = rec.Offset
		return false
	}
	e.position[p] = rec.Offset + 1
	return true
}

func (e *endOfAssignment) reached() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for p, position := range e.position {
		if position < e.end[p] {
			return false
		}
	}
	return e.assigned
}

// listOffsets asks the partitions' leaders for one offset each: -1 the end, -2 the start.
func listOffsets(ctx context.Context, cl *kgo.Client, partitions map[string]map[int32]kgo.Offset,
	timestamp int64) (map[partition]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	for topic, ids := range partitions {
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = topic
		for id := range ids {
			p := kmsg.NewListOffsetsRequestTopicPartition()
			p.Partition, p.Timestamp = id, timestamp
			t.Partitions = append(t.Partitions, p)
		}
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, cl) // the client sends each partition to its leader
	if err != nil {
		return nil, err
	}
	out := map[partition]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("offsets of %s[%d]: %w", t.Topic, p.Partition, err)
			}
			out[partition{t.Topic, p.Partition}] = p.Offset
		}
	}
	return out, nil
}

func main() {
	bootstrap := flag.String("bootstrap", "", "Kafka bootstrap servers")
	registry := flag.String("registry", "", "Schema Registry URL (Confluent API)")
	group := flag.String("group", "", "consumer group")
	fromBeginning := flag.Bool("from-beginning", false, "a new group starts at the oldest records")
	idleExit := flag.Float64("idle-exit", 0, "exit after this many seconds without a record")
	exitAtEnd := flag.Bool("exit-at-end", false, "exit once every assigned partition is read to its end")
	flag.Parse()
	if *bootstrap == "" || *registry == "" || *group == "" {
		fmt.Fprintln(os.Stderr, "--bootstrap, --registry and --group are required")
		os.Exit(2)
	}
	reset := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	seeds := kgo.SeedBrokers(strings.Split(*bootstrap, ",")...)
	opts := []kgo.Opt{
		seeds,
		kgo.ConsumerGroup(*group),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(domainTopics),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
	}
	ends := &endOfAssignment{fromBeginning: *fromBeginning,
		end: map[partition]int64{}, position: map[partition]int64{}}
	if *exitAtEnd {
		admin, err := kgo.NewClient(seeds)
		if err != nil {
			panic(err)
		}
		defer admin.Close()
		ends.admin = admin
		opts = append(opts, kgo.AdjustFetchOffsetsFn(ends.started),
			kgo.OnPartitionsRevoked(ends.revoked), kgo.OnPartitionsLost(ends.revoked))
	}
	client, err := kgo.NewClient(opts...)
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
	for !(*exitAtEnd && ends.reached()) && (*idleExit <= 0 || time.Since(last).Seconds() < *idleExit) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := client.PollFetches(ctx)
		cancel()
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fmt.Fprintf(os.Stderr, "fetch %s[%d]: %v\n", topic, partition, err)
			}
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			if *exitAtEnd && !ends.within(rec) {
				return // produced after the assignment: left for the next run
			}
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
