"""The version of the tracelet-core distribution."""

__version__ = "0.1.0"
