// A stock Java consumer of the NeverMissCall topics, as another team would write it:
// kafka-clients and Apache Avro, nothing from the platform's code (and no Confluent SerDes:
// the Confluent wire format is 1 magic byte, a 4-byte schema id, then Avro binary).
//
//   mvn -B -q dependency:copy-dependencies -DoutputDirectory=target/lib
//   java -cp 'target/lib/*' Consume.java --bootstrap 127.0.0.1:9092 \
//     --registry http://127.0.0.1:8081/apis/ccompat/v7 --group my-team --from-beginning
//
// Follows docs/consumers/README.md: subscribe with ^nmc\.[a-z]+$, decode with the writer schema
// fetched by id, filter on the schema_version major before decoding, dedupe by event_id, per-key
// order (a partition's records are handled in order), commit after the effect. kafka-clients
// reads LZ4 natively and its partitioner is the murmur2 the producers use. Prints one JSON line
// per record. Runs until stopped, or with --exit-at-end until every assigned partition is read up
// to the end it had when the group assigned it (like kcat -e), or with --idle-exit N until N
// seconds pass without a record.
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class Consume {
  static final Pattern DOMAIN_TOPICS = Pattern.compile("^nmc\\.[a-z]+$");
  static final Set<String> MAJORS = Set.of("1");
  static final Set<String> FLAGS = Set.of("--from-beginning", "--exit-at-end");
  static final ObjectMapper JSON = new ObjectMapper();

  /** Writer schemas by id (immutable once registered). */
  static final class Schemas {
    private final String registry;
    private final HttpClient http = HttpClient.newBuilder()
        .connectTimeout(Duration.ofSeconds(10)).build();
    private final Map<Integer, Schema> byId = new HashMap<>();

    Schemas(String registry) { this.registry = registry.replaceAll("/+$", ""); }

    GenericRecord decode(byte[] value) throws Exception {
      if (value == null || value.length < 5 || value[0] != 0) {
        throw new IllegalArgumentException("not in the Confluent wire format");
      }
      int id = ByteBuffer.wrap(value, 1, 4).getInt();
      Schema schema = byId.get(id);
      if (schema == null) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id))
            .timeout(Duration.ofSeconds(10)).GET().build();
        HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
          throw new IllegalStateException("schema " + id + ": HTTP " + resp.statusCode());
        }
        schema = new Schema.Parser().parse(JSON.readTree(resp.body()).get("schema").asText());
        byId.put(id, schema);
      }
      return new GenericDatumReader<GenericRecord>(schema).read(null,
          DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null));
    }
  }

  /**
   * For --exit-at-end: each assigned partition's end offset (high watermark) when the group
   * assigned it. Records produced after that are left for the next run, so others writing all
   * the time do not keep the consumer running.
   */
  static final class EndOfAssignment implements ConsumerRebalanceListener {
    private final KafkaConsumer<?, ?> consumer;
    private final Map<TopicPartition, Long> ends = new HashMap<>();
    private boolean assigned;

    EndOfAssignment(KafkaConsumer<?, ?> consumer) { this.consumer = consumer; }

    @Override public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      consumer.endOffsets(partitions).forEach(ends::putIfAbsent); // a rebalance keeps the end
      assigned = true;
    }

    @Override public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

    boolean isPast(ConsumerRecord<?, ?> rec) {
      return rec.offset() >= ends.get(new TopicPartition(rec.topic(), rec.partition()));
    }

    /** Every assigned partition's position (committed, reset, or after the last record polled)
     * is at its end. */
    boolean reached() {
      return assigned && consumer.assignment().stream()
          .allMatch(tp -> consumer.position(tp) >= ends.get(tp));
    }
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>();
    for (int i = 0; i < argv.length; i++) {
      if (FLAGS.contains(argv[i])) args.put(argv[i].substring(2), "true");
      else args.put(argv[i].substring(2), argv[++i]);
    }
    for (String required : List.of("bootstrap", "registry", "group")) {
      if (!args.containsKey(required)) throw new IllegalArgumentException("--" + required);
    }
    boolean exitAtEnd = args.containsKey("exit-at-end");
    double idleExit = Double.parseDouble(args.getOrDefault("idle-exit", "0"));
    Properties props = new Properties();
    props.put("bootstrap.servers", args.get("bootstrap"));
    props.put("group.id", args.get("group"));
    props.put("enable.auto.commit", "false");
    props.put("auto.offset.reset", args.containsKey("from-beginning") ? "earliest" : "latest");
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    Schemas schemas = new Schemas(args.get("registry"));
    Set<String> seen = new LinkedHashSet<>(); // a real consumer keeps these durably
    long last = System.nanoTime();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      EndOfAssignment ends = new EndOfAssignment(consumer);
      consumer.subscribe(DOMAIN_TOPICS, ends);
      while (!(exitAtEnd && ends.reached())
          && (idleExit <= 0 || (System.nanoTime() - last) / 1e9 < idleExit)) {
        for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(500))) {
          if (exitAtEnd && ends.isPast(rec)) continue; // produced after the assignment: next run
          last = System.nanoTime();
          Map<String, String> headers = new HashMap<>();
          for (Header h : rec.headers()) {
            headers.put(h.key(), new String(h.value(), StandardCharsets.UTF_8));
          }
          Map<String, Object> out = new LinkedHashMap<>();
          out.put("topic", rec.topic());
          out.put("partition", rec.partition());
          out.put("offset", rec.offset());
          out.put("key", rec.key() == null ? null : new String(rec.key(), StandardCharsets.UTF_8));
          out.put("event_id", headers.get("event_id"));
          out.put("event_name", headers.get("event_name"));
          String major = headers.getOrDefault("schema_version", "").split("\\.")[0];
          if (!MAJORS.contains(major)) {
            out.put("skipped", "unknown major");
          } else if (!seen.add(headers.get("event_id"))) {
            out.put("duplicate", true);
          } else {
            try {
              GenericRecord event = schemas.decode(rec.value());
              GenericRecord payload = (GenericRecord) event.get("payload");
              Set<String> fields = new TreeSet<>();
              payload.getSchema().getFields().forEach(f -> fields.add(f.name()));
              out.put("payload_fields", fields);
            } catch (Exception e) { // never block the partition: dead-letter it (docs §11)
              out.put("error", String.valueOf(e.getMessage()).split("\n")[0]);
            }
          }
          System.out.println(JSON.writeValueAsString(out));
          consumer.commitSync(Map.of(new TopicPartition(rec.topic(), rec.partition()),
              new OffsetAndMetadata(rec.offset() + 1))); // after the effect: at least once
        }
      }
    }
  }
}
