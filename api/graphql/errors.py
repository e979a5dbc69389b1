"""Every GraphQL error carries a stable `code` extension; unexpected ones never leak a trace."""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from domain.application import RefusedChannelError
from domain.errors import DomainError

log = logging.getLogger("carelog.graphql")

INTERNAL = "INTERNAL"
INVALID_REQUEST = "GRAPHQL_VALIDATION_FAILED"


def error_extensions(error: DomainError) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": error.code}
    if isinstance(error, RefusedChannelError):
        extensions["allowedChannels"] = error.allowed
        extensions["interactionId"] = str(error.result.ids["interactionId"])
        extensions["notificationId"] = error.result.notification_id
    return extensions


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class ErrorCodes(MaskErrors):
    """Domain errors keep their message and gain their code; anything else becomes INTERNAL.

    With `production`, validation errors lose graphql-core's "Did you mean ...?" hints: with
    introspection off, they would still spell out the schema one guess at a time."""

    def __init__(self, production: bool = False) -> None:
        super().__init__(error_message="Internal server error")
        self.production = production

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._with_code(e) for e in errors]

    def _with_code(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, DomainError):
            extensions = error_extensions(original)
            message = original.message
        elif _is_unexpected(error):
            extensions, message = {"code": INTERNAL}, self.error_message
        elif error.extensions and "code" in error.extensions:
            return error
        else:
            extensions, message = {"code": INVALID_REQUEST}, error.message
            if self.production:
                message = _SUGGESTION.sub("", message)
        return GraphQLError(message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, extensions=extensions)


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Expected refusals are answers, not incidents: log only the unexpected, with a trace."""
    for error in errors:
        if _is_unexpected(error):
            log.error("unexpected error in GraphQL operation", exc_info=error.original_error)
