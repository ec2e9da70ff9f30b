"""The generated pages of the docs site (`nmc docs build|check`): the settings, command and
read-API reference and the performance page, rendered from the code and from the benchmarks'
JSON files so that they cannot drift from what they describe."""
