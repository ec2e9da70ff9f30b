"""The SMS sender: sends queued outbound messages exactly once or reports them `unknown`."""
