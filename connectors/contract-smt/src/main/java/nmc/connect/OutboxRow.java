package nmc.connect;

/** The columns of one {@code outbox_events} row that the contract needs (as Debezium emits them). */
public record OutboxRow(
    String eventId,
    String eventName,
    String schemaVersion,
    String tenantId,
    String correlationId,
    String causationId,
    String occurredAt,
    String payloadJson,
    String topic,
    String recordKey) {}
