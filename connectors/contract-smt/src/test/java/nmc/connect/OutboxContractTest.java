package nmc.connect;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.source.SourceRecord;
import org.junit.jupiter.api.Test;

class OutboxContractTest {
    private static final String TOPIC = "nmc.catalog";
    private static final String SUBJECT = "nmc.catalog-nmc.catalog.v1.CatalogUpdated";
    private static final int SCHEMA_ID = 42;

    private static final Schema ROW = SchemaBuilder.struct().name("nmc.public.outbox_events.Value")
        .field("id", Schema.INT64_SCHEMA)
        .field("event_id", Schema.STRING_SCHEMA)
        .field("event_name", Schema.STRING_SCHEMA)
        .field("schema_version", Schema.STRING_SCHEMA)
        .field("tenant_id", Schema.STRING_SCHEMA)
        .field("correlation_id", Schema.STRING_SCHEMA)
        .field("causation_id", Schema.OPTIONAL_STRING_SCHEMA)
        .field("occurred_at", Schema.STRING_SCHEMA)
        .field("payload", Schema.STRING_SCHEMA)
        .field("topic", Schema.STRING_SCHEMA)
        .field("record_key", Schema.STRING_SCHEMA)
        .optional()
        .build();
    private static final Schema ENVELOPE = SchemaBuilder.struct().name("nmc.public.outbox_events.Envelope")
        .field("before", ROW).field("after", ROW).field("op", Schema.STRING_SCHEMA).build();

    private static org.apache.avro.Schema catalogSchema() throws IOException {
        Path file = Path.of("..", "..", "schemas-avro", "catalog", "CatalogUpdated.v1.avsc");
        return new org.apache.avro.Schema.Parser().parse(Files.readString(file));
    }

    /** A registry holding one schema under one subject (pure logic: no HTTP here). */
    private static final class OneSchema implements SchemaLookup {
        final List<String> asked = new ArrayList<>();
        private final org.apache.avro.Schema schema;

        OneSchema(org.apache.avro.Schema schema) {
            this.schema = schema;
        }

        @Override
        public Registered lookup(String subject, String schemaVersion) {
            asked.add(subject + "@" + schemaVersion);
            if (!subject.equals(SUBJECT)) {
                throw new UnregisteredSchemaException("schema " + subject + " is not registered");
            }
            return new Registered(SCHEMA_ID, schema);
        }
    }

    private static Struct row(String causation, String occurredAt) {
        return new Struct(ROW)
            .put("id", 7L)
            .put("event_id", "5d1c2a52-8f0e-4c1d-9b7b-1f0d3c1e2a10")
            .put("event_name", "nmc.catalog.CatalogUpdated")
            .put("schema_version", "1.0.0")
            .put("tenant_id", "0b9a7d43-6a35-4a41-9c53-0c8d3c0f5e11")
            .put("correlation_id", "a4c1e1f0-2b1a-4bde-8d8e-6e5b8f7c9d12")
            .put("causation_id", causation)
            .put("occurred_at", occurredAt)
            // jsonb hands keys back in its own order
            .put("payload", "{\"full_refresh\": false, \"updated_item_ids\": "
                + "[\"9e1f3b7a-7c2d-4f6e-8a9b-0c1d2e3f4a5b\"]}")
            .put("topic", TOPIC)
            .put("record_key", "0b9a7d43-6a35-4a41-9c53-0c8d3c0f5e11:a4c1e1f0-2b1a-4bde-8d8e-6e5b8f7c9d12");
    }

    private static SourceRecord change(String op, Struct before, Struct after) {
        Struct value = new Struct(ENVELOPE).put("op", op).put("before", before).put("after", after);
        return new SourceRecord(Map.of("server", "nmc"), Map.of("lsn", 1L), "nmc-cdc.public.outbox_events",
            null, null, null, ENVELOPE, value, 123L);
    }

    private static OutboxContract<SourceRecord> transform(SchemaLookup lookup) {
        OutboxContract<SourceRecord> smt = new OutboxContract<>();
        smt.configure(lookup);
        return smt;
    }

    @Test
    void insertBecomesTheRelaysRecord() throws IOException {
        org.apache.avro.Schema schema = catalogSchema();
        OneSchema registry = new OneSchema(schema);
        SourceRecord out = transform(registry).apply(change("c", null, row(null, "2025-09-01T18:22:03.120000Z")));

        assertEquals(TOPIC, out.topic());
        assertNull(out.kafkaPartition(), "the Java default partitioner must pick the partition");
        assertArrayEquals(
            "0b9a7d43-6a35-4a41-9c53-0c8d3c0f5e11:a4c1e1f0-2b1a-4bde-8d8e-6e5b8f7c9d12".getBytes(StandardCharsets.UTF_8),
            (byte[]) out.key());
        assertEquals(Instant.parse("2025-09-01T18:22:03.120Z").toEpochMilli(), out.timestamp());
        assertEquals(List.of(SUBJECT + "@1.0.0"), registry.asked);

        List<String> names = new ArrayList<>();
        for (Header h : out.headers()) {
            names.add(h.key());
        }
        assertEquals(List.of("event_id", "event_name", "schema_version", "tenant_id", "correlation_id",
            "occurred_at"), names, "no causation_id when null, nothing else");
        assertEquals("2025-09-01T18:22:03.120Z",
            new String((byte[]) out.headers().lastWithName("occurred_at").value(), StandardCharsets.UTF_8));

        byte[] wire = (byte[]) out.value();
        assertEquals(0, wire[0]);
        assertEquals(SCHEMA_ID, ByteBuffer.wrap(wire, 1, 4).getInt());
        GenericRecord decoded = new GenericDatumReader<GenericRecord>(schema).read(null,
            DecoderFactory.get().binaryDecoder(Arrays.copyOfRange(wire, 5, wire.length), null));
        assertEquals("5d1c2a52-8f0e-4c1d-9b7b-1f0d3c1e2a10", decoded.get("event_id").toString());
        assertEquals("1.0.0", decoded.get("schema_version").toString());
        assertEquals(out.timestamp(), decoded.get("occurred_at"));
        assertNull(decoded.get("causation_id"));
        GenericRecord payload = (GenericRecord) decoded.get("payload");
        assertEquals(false, payload.get("full_refresh"));
        assertEquals("9e1f3b7a-7c2d-4f6e-8a9b-0c1d2e3f4a5b",
            ((List<?>) payload.get("updated_item_ids")).get(0).toString());
    }

    @Test
    void causationIdIsTheLastHeaderWhenPresent() throws IOException {
        String cause = "11111111-2222-4333-8444-555555555555";
        SourceRecord out = transform(new OneSchema(catalogSchema()))
            .apply(change("r", null, row(cause, "2025-09-01T18:22:03Z")));
        List<String> names = new ArrayList<>();
        for (Header h : out.headers()) {
            names.add(h.key());
        }
        assertEquals(ContractEncoder.HEADER_NAMES, names);
        assertEquals(cause, new String((byte[]) out.headers().lastWithName("causation_id").value(),
            StandardCharsets.UTF_8));
        assertEquals("2025-09-01T18:22:03Z", new String(
            (byte[]) out.headers().lastWithName("occurred_at").value(), StandardCharsets.UTF_8));
    }

    @Test
    void updatesDeletesAndTombstonesAreDropped() throws IOException {
        OutboxContract<SourceRecord> smt = transform(new OneSchema(catalogSchema()));
        Struct r = row(null, "2025-09-01T18:22:03Z");
        assertNull(smt.apply(change("u", r, r)));
        assertNull(smt.apply(change("d", r, null)));
        assertNull(smt.apply(new SourceRecord(Map.of(), Map.of(), "t", null, null, null, null)));
    }

    @Test
    void anUnregisteredSchemaIsAPermanentError() throws IOException {
        Struct r = row(null, "2025-09-01T18:22:03Z").put("event_name", "nmc.catalog.Unknown");
        DataException error = assertThrows(DataException.class,
            () -> transform(new OneSchema(catalogSchema())).apply(change("c", null, r)));
        assertTrue(error.getMessage().contains("not registered"), error.getMessage());
    }

    @Test
    void aPayloadThatDoesNotFitTheSchemaIsRefused() throws IOException {
        Struct r = row(null, "2025-09-01T18:22:03Z").put("payload", "{\"full_refresh\": \"yes\"}");
        assertThrows(DataException.class,
            () -> transform(new OneSchema(catalogSchema())).apply(change("c", null, r)));
    }

    @Test
    void subjectsFollowTopicRecordNameStrategy() {
        assertEquals("nmc.billing-nmc.billing.v2.SubscriptionUpdated",
            ContractEncoder.subject("nmc.billing", "nmc.billing.SubscriptionUpdated", "2.1.0"));
        assertThrows(DataException.class, () -> ContractEncoder.subject("t", "bad", "1.0.0"));
        assertThrows(DataException.class, () -> ContractEncoder.subject("t", "nmc.a.B", "1.0"));
    }

    @Test
    void occurredAtIsFormattedAsTheRelayDoes() {
        assertEquals("2025-09-01T18:22:03Z",
            ContractEncoder.formatOccurredAt(Instant.parse("2025-09-01T18:22:03.000900Z")));
        assertEquals("2025-09-01T18:22:03.007Z",
            ContractEncoder.formatOccurredAt(ContractEncoder.parseInstant("2025-09-01T20:22:03.007+02:00")));
    }

    @Test
    void theRegisteredVersionIsChosenBySchemaVersion() throws IOException {
        org.apache.avro.Schema v100 = catalogSchema();
        org.apache.avro.Schema v110 = new org.apache.avro.Schema.Parser().parse(
            v100.toString().replace("\"nmc.version\":\"1.0.0\"", "\"nmc.version\":\"1.1.0\""));
        List<ConfluentRegistryLookup.Candidate> both = List.of(
            new ConfluentRegistryLookup.Candidate(1, 10, v100),
            new ConfluentRegistryLookup.Candidate(2, 11, v110));
        assertEquals(10, ConfluentRegistryLookup.choose(both, "1.0.0").orElseThrow().id());
        assertEquals(11, ConfluentRegistryLookup.choose(both, "1.1.0").orElseThrow().id());
        assertTrue(ConfluentRegistryLookup.choose(both, "1.2.0").isEmpty());
        assertTrue(ConfluentRegistryLookup.choose(List.of(), "1.0.0").isEmpty());
    }
}
