package nmc.connect;

import org.apache.avro.Schema;

/** Finds the registered writer schema of a subject; never registers one (DESIGN.md §3). */
public interface SchemaLookup extends AutoCloseable {

    /** A schema as the registry holds it, with the id that goes into the wire format. */
    record Registered(int id, Schema schema) {}

    /**
     * The registered schema of {@code subject} for an event written at {@code schemaVersion}.
     *
     * @throws UnregisteredSchemaException the subject has no such schema (permanent)
     * @throws org.apache.kafka.connect.errors.RetriableException the registry is unreachable
     */
    Registered lookup(String subject, String schemaVersion);

    @Override
    default void close() {}
}
