package nmc.connect;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Debezium change event of {@code outbox_events} -> the record {@code nmc relay} would write.
 *
 * <p>Inserts (op {@code c}) and snapshot reads ({@code r}) become one record each: topic from the
 * {@code topic} column, key = {@code record_key} bytes with no explicit partition (the Java
 * default partitioner: murmur2), value = Confluent wire format under the registered schema,
 * headers exactly the relay's, timestamp = {@code occurred_at}. Updates, deletes (the retention
 * job), tombstones and anything that is not an outbox change event are dropped. Use
 * {@code ByteArrayConverter} for key, value and headers so the bytes pass through untouched.
 */
public class OutboxContract<R extends ConnectRecord<R>> implements Transformation<R> {
    public static final String REGISTRY_URL = "registry.url";
    public static final String REGISTRY_TIMEOUT_MS = "registry.timeout.ms";

    public static final ConfigDef CONFIG = new ConfigDef()
        .define(REGISTRY_URL, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE,
            ConfigDef.Importance.HIGH,
            "Confluent-compatible Schema Registry URL (lookup only, never registers).")
        .define(REGISTRY_TIMEOUT_MS, ConfigDef.Type.LONG, 10_000L, ConfigDef.Importance.LOW,
            "HTTP timeout of each registry request.");

    private ContractEncoder encoder;
    private SchemaLookup lookup;

    @Override
    public void configure(Map<String, ?> configs) {
        Map<String, Object> parsed = CONFIG.parse(configs);
        configure(new ConfluentRegistryLookup((String) parsed.get(REGISTRY_URL),
            Duration.ofMillis((Long) parsed.get(REGISTRY_TIMEOUT_MS))));
    }

    /** With an explicit lookup (tests). */
    void configure(SchemaLookup schemaLookup) {
        this.lookup = schemaLookup;
        this.encoder = new ContractEncoder(schemaLookup);
    }

    @Override
    public R apply(R record) {
        OutboxRow row = insertedRow(record);
        if (row == null) {
            return null;
        }
        ContractEncoder.Encoded out = encoder.encode(row);
        ConnectHeaders headers = new ConnectHeaders();
        out.headers().forEach((name, value) -> headers.add(name, value, Schema.BYTES_SCHEMA));
        return record.newRecord(out.topic(), null, Schema.BYTES_SCHEMA, out.key(),
            Schema.BYTES_SCHEMA, out.value(), out.timestampMs(), headers);
    }

    /** The inserted row of a Debezium change event, or null when the record is to be dropped. */
    static OutboxRow insertedRow(ConnectRecord<?> record) {
        if (!(record.value() instanceof Struct value)) {
            return null;
        }
        Field op = value.schema().field("op");
        Field after = value.schema().field("after");
        if (op == null || after == null) {
            return null;
        }
        String operation = value.getString("op");
        if (!"c".equals(operation) && !"r".equals(operation)) {
            return null;
        }
        Struct row = value.getStruct("after");
        if (row == null) {
            return null;
        }
        return new OutboxRow(
            text(row, "event_id"), text(row, "event_name"), text(row, "schema_version"),
            text(row, "tenant_id"), text(row, "correlation_id"), optional(row, "causation_id"),
            text(row, "occurred_at"), text(row, "payload"), text(row, "topic"),
            text(row, "record_key"));
    }

    private static String optional(Struct row, String column) {
        if (row.schema().field(column) == null) {
            throw new DataException("change event has no column " + column);
        }
        Object value = row.get(column);
        return value == null ? null : value.toString();
    }

    private static String text(Struct row, String column) {
        String value = optional(row, column);
        if (value == null) {
            throw new DataException("column " + column + " is null");
        }
        return value;
    }

    @Override
    public ConfigDef config() {
        return CONFIG;
    }

    @Override
    public void close() {
        if (lookup != null) {
            lookup.close();
        }
    }
}
