"""Version of this package and of the schemas it was generated from (`nmc schemas codegen`)."""

__version__ = "1.0.0"
SCHEMAS_SHA256 = "8bb20772e2eca8abe67252965de61490c977873fd06a012ebc1048e80e4e2ceb"
