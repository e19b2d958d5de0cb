"""Helpers shared by the tests (importable as ``support`` thanks to ``tests/conftest.py``)."""
