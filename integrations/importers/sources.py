"""Reading a source's files or its HTTP API: the errors that mean nothing could be read."""

from __future__ import annotations


class SourceError(Exception):
    """The source cannot be read at all (a missing directory, a refused login, bad JSON)."""
