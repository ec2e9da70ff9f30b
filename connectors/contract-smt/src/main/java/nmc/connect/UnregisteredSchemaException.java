package nmc.connect;

import org.apache.kafka.connect.errors.DataException;

/** The registry has no schema for an event: permanent, the row can never be written as is. */
public class UnregisteredSchemaException extends DataException {
    public UnregisteredSchemaException(String message) {
        super(message);
    }
}
