"""Tracelet's built-in backends: ``local`` (a durable run folder) and ``memory`` (tests)."""
