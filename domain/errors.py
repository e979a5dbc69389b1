"""Errors the domain raises on purpose; each carries a stable `code` the API passes on."""

from __future__ import annotations


class DomainError(Exception):
    """An expected refusal of a command, with a stable machine-readable code."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(DomainError):
    code = "INVALID_INPUT"


class NotFoundError(DomainError):
    code = "NOT_FOUND"


class VersionConflictError(DomainError):
    """Somebody else changed the aggregate since the caller read it."""

    code = "VERSION_CONFLICT"


class ChannelNotAllowedError(DomainError):
    code = "CHANNEL_NOT_ALLOWED"


class InvalidStateError(DomainError):
    """The command does not apply in the aggregate's current state (e.g. a closed case)."""

    code = "INVALID_STATE"
