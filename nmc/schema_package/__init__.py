"""The schemas as an artifact other teams depend on: typed Python models generated from
`schemas-avro/` (`codegen`, pure), the package version derived from the schema versions
(`version`, pure), and a reproducible wheel of both (`wheel`). `nmc schemas codegen|package`."""
