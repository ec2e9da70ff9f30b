"""Generate the browsable event catalog (Markdown under docs/catalog/) from schemas-avro/ alone."""
