package nmc.connect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.LogicalType;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.connect.errors.DataException;

/**
 * Turns an outbox row into exactly what {@code nmc relay} writes (DESIGN.md §2): the Confluent wire
 * format (magic 0, 4-byte schema id, Avro binary) of payload + envelope under the registered
 * schema, the seven headers, the key and the event-time timestamp. Pure apart from the lookup.
 */
public final class ContractEncoder {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter SECONDS =
        DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);

    /** Header names in the relay's order; causation_id only when not null. */
    public static final List<String> HEADER_NAMES = List.of(
        "event_id", "event_name", "schema_version", "tenant_id", "correlation_id", "occurred_at",
        "causation_id");

    /** One encoded record, ready for a ByteArrayConverter on key, value and headers. */
    public record Encoded(
        String topic, byte[] key, byte[] value, long timestampMs, Map<String, byte[]> headers) {}

    private final SchemaLookup lookup;

    public ContractEncoder(SchemaLookup lookup) {
        this.lookup = lookup;
    }

    /** {@code <topic>-nmc.<domain>.v<major>.<EventName>} (TopicRecordNameStrategy). */
    public static String subject(String topic, String eventName, String schemaVersion) {
        String[] parts = eventName.split("\\.");
        if (parts.length != 3 || !parts[0].equals("nmc")) {
            throw new DataException("event_name must look like nmc.<domain>.<EventName>: " + eventName);
        }
        String[] semver = schemaVersion.split("\\.");
        if (semver.length != 3 || !semver[0].matches("0|[1-9][0-9]*")) {
            throw new DataException("schema_version is not MAJOR.MINOR.PATCH: " + schemaVersion);
        }
        return topic + "-nmc." + parts[1] + ".v" + semver[0] + "." + parts[2];
    }

    /** RFC 3339 UTC at millisecond precision, {@code Z} suffix, no {@code .000} (as the relay). */
    public static String formatOccurredAt(Instant instant) {
        Instant ms = instant.truncatedTo(ChronoUnit.MILLIS);
        int millis = ms.getNano() / 1_000_000;
        String base = SECONDS.format(ms);
        return millis == 0 ? base + "Z" : base + String.format(".%03dZ", millis);
    }

    /** Debezium's ZonedTimestamp (ISO-8601 with offset) or any RFC 3339 form. */
    public static Instant parseInstant(String text) {
        try {
            return OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
        } catch (DateTimeParseException exc) {
            throw new DataException("not an ISO-8601 timestamp with offset: " + text, exc);
        }
    }

    public Encoded encode(OutboxRow row) {
        String subject = subject(row.topic(), row.eventName(), row.schemaVersion());
        SchemaLookup.Registered registered = lookup.lookup(subject, row.schemaVersion());
        Instant occurred = parseInstant(row.occurredAt());
        String occurredText = formatOccurredAt(occurred);
        long timestampMs = occurred.truncatedTo(ChronoUnit.MILLIS).toEpochMilli();

        JsonNode payload;
        try {
            payload = JSON.readTree(row.payloadJson());
        } catch (IOException exc) {
            throw new DataException("payload is not JSON: " + exc.getMessage(), exc);
        }
        Map<String, JsonNode> envelope = new LinkedHashMap<>();
        envelope.put("event_id", JSON.getNodeFactory().textNode(row.eventId()));
        envelope.put("event_name", JSON.getNodeFactory().textNode(row.eventName()));
        envelope.put("schema_version", JSON.getNodeFactory().textNode(row.schemaVersion()));
        envelope.put("tenant_id", JSON.getNodeFactory().textNode(row.tenantId()));
        envelope.put("occurred_at", JSON.getNodeFactory().textNode(occurredText));
        envelope.put("correlation_id", JSON.getNodeFactory().textNode(row.correlationId()));
        envelope.put("causation_id", row.causationId() == null
            ? JSON.getNodeFactory().nullNode() : JSON.getNodeFactory().textNode(row.causationId()));
        envelope.put("payload", payload);
        Object record = toAvro(registered.schema(), JSON.valueToTree(envelope), "");

        Map<String, byte[]> headers = new LinkedHashMap<>();
        Map<String, String> values = Map.of(
            "event_id", row.eventId(), "event_name", row.eventName(),
            "schema_version", row.schemaVersion(), "tenant_id", row.tenantId(),
            "correlation_id", row.correlationId(), "occurred_at", occurredText);
        for (String name : HEADER_NAMES) {
            String value = name.equals("causation_id") ? row.causationId() : values.get(name);
            if (value != null) {
                headers.put(name, value.getBytes(StandardCharsets.UTF_8));
            }
        }
        return new Encoded(
            row.topic(), row.recordKey().getBytes(StandardCharsets.UTF_8),
            wire(registered, record), timestampMs, headers);
    }

    private static byte[] wire(SchemaLookup.Registered registered, Object record) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        out.write(0);
        out.writeBytes(ByteBuffer.allocate(4).putInt(registered.id()).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        try {
            new GenericDatumWriter<Object>(registered.schema()).write(record, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException exc) {
            throw new DataException("cannot encode with " + registered.schema().getFullName()
                + ": " + exc.getMessage(), exc);
        }
        return out.toByteArray();
    }

    /** JSON (the catalog's JSON form) to the Avro datum of {@code schema}. */
    static Object toAvro(Schema schema, JsonNode node, String path) {
        switch (schema.getType()) {
            case UNION: {
                if (node == null || node.isNull()) {
                    if (schema.getTypes().stream().anyMatch(s -> s.getType() == Schema.Type.NULL)) {
                        return null;
                    }
                    throw new DataException(path + ": must not be null");
                }
                List<Schema> branches = schema.getTypes().stream()
                    .filter(s -> s.getType() != Schema.Type.NULL).toList();
                if (branches.size() != 1) {
                    throw new DataException(path + ": unsupported union " + schema);
                }
                return toAvro(branches.get(0), node, path);
            }
            case NULL:
                return null;
            default:
                break;
        }
        if (node == null || node.isNull()) {
            throw new DataException(path + ": must not be null");
        }
        LogicalType logical = schema.getLogicalType();
        switch (schema.getType()) {
            case RECORD: {
                if (!node.isObject()) {
                    throw new DataException(path + ": expected an object");
                }
                GenericRecord record = new GenericData.Record(schema);
                for (Schema.Field field : schema.getFields()) {
                    JsonNode value = node.get(field.name());
                    if (value == null && field.hasDefaultValue()) {
                        record.put(field.pos(), GenericData.get().getDefaultValue(field));
                    } else {
                        record.put(field.pos(), toAvro(field.schema(), value, path + "." + field.name()));
                    }
                }
                return record;
            }
            case ARRAY: {
                if (!node.isArray()) {
                    throw new DataException(path + ": expected a list");
                }
                List<Object> items = new ArrayList<>();
                int i = 0;
                for (JsonNode item : node) {
                    items.add(toAvro(schema.getElementType(), item, path + "[" + i++ + "]"));
                }
                return new GenericData.Array<>(schema, items);
            }
            case MAP: {
                Map<String, Object> map = new LinkedHashMap<>();
                node.fields().forEachRemaining(e ->
                    map.put(e.getKey(), toAvro(schema.getValueType(), e.getValue(), path + "." + e.getKey())));
                return map;
            }
            case ENUM:
                return new GenericData.EnumSymbol(schema, node.asText());
            case STRING:
                if (!node.isTextual()) {
                    throw new DataException(path + ": expected a string");
                }
                return node.asText();
            case BOOLEAN:
                if (!node.isBoolean()) {
                    throw new DataException(path + ": expected true or false");
                }
                return node.booleanValue();
            case INT:
                if (!node.isIntegralNumber()) {
                    throw new DataException(path + ": expected an integer");
                }
                return node.intValue();
            case LONG:
                if (logical != null && logical.getName().startsWith("timestamp-")) {
                    if (!node.isTextual()) {
                        throw new DataException(path + ": expected an RFC 3339 timestamp");
                    }
                    Instant instant = parseInstant(node.asText());
                    return logical.getName().equals("timestamp-micros")
                        ? ChronoUnit.MICROS.between(Instant.EPOCH, instant)
                        : instant.truncatedTo(ChronoUnit.MILLIS).toEpochMilli();
                }
                if (!node.isIntegralNumber()) {
                    throw new DataException(path + ": expected an integer");
                }
                return node.longValue();
            case FLOAT:
                return node.floatValue();
            case DOUBLE:
                if (!node.isNumber()) {
                    throw new DataException(path + ": expected a number");
                }
                return node.doubleValue();
            case BYTES:
                return ByteBuffer.wrap(node.asText().getBytes(StandardCharsets.UTF_8));
            default:
                throw new DataException(path + ": unsupported Avro type " + schema.getType());
        }
    }
}
