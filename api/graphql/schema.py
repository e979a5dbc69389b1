"""The schema: queries, mutations and the extensions every operation passes through."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing
from functools import partial
from typing import Any

from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema import Schema
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StreamResult
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from api.graphql.announcements import AnnouncementMutation, AnnouncementQuery
from api.graphql.answers import AnswerCache
from api.graphql.care_mutations import CareMutation
from api.graphql.context import CareContext, still_the_viewer
from api.graphql.errors import ErrorCodes, log_unexpected
from api.graphql.execution import CarelogExecutionContext
from api.graphql.history import HistoryQuery
from api.graphql.knowledge import KnowledgeMutation, KnowledgeQuery
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.rooms import RoomMutation, RoomQuery
from api.graphql.subscriptions import Subscription
from api.graphql.users import UserQuery


class CarelogSchema(Schema):
    """The strawberry schema, with unexpected errors logged and plain queries' answers kept."""

    answers: AnswerCache | None = None

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        log_unexpected(errors)

    async def execute(self, query: str | None, variable_values: dict[str, Any] | None = None,
                      context_value: Any | None = None, root_value: Any | None = None,
                      operation_name: str | None = None,
                      allowed_operation_types: Iterable[OperationType] | None = None,
                      operation_extensions: dict[str, Any] | None = None) -> ExecutionResult:
        # Over HTTP (the only caller of `execute`; websockets `stream`) a subscription is
        # refused with 400: it would run outside the websocket's per-event session check.
        allowed = frozenset(allowed_operation_types or OperationType) - {
            OperationType.SUBSCRIPTION}
        if _has_nul(query) or _has_nul(variable_values):
            return ExecutionResult(data=None, errors=[_NUL_REFUSED])

        def run() -> Awaitable[ExecutionResult]:
            return super(CarelogSchema, self).execute(
                query, variable_values, context_value, root_value, operation_name,
                allowed, operation_extensions)

        if self.answers is None:
            return await run()
        return await self.answers.answer(query, variable_values, operation_name, context_value,
                                         run)


    async def stream(self, query: str | None, variable_values: dict[str, Any] | None = None,
                     context_value: Any | None = None, root_value: Any | None = None,
                     operation_name: str | None = None,
                     operation_extensions: dict[str, Any] | None = None,
                     allowed_operation_types: Iterable[OperationType] | None = None,
                     ) -> StreamResult:
        """Each event of a subscription is sent only while its viewer still holds: a revoked
        or expired session, a disabled user, ends the subscription with UNAUTHENTICATED."""
        if _has_nul(query) or _has_nul(variable_values):
            return _refused_nul()
        source = await super().stream(query, variable_values, context_value, root_value,
                                      operation_name, operation_extensions,
                                      allowed_operation_types)
        if not isinstance(context_value, CareContext) or context_value.credential is None:
            return source
        return _while_authenticated(source, context_value)


_NUL_REFUSED = GraphQLError("text must not contain NUL (\\u0000) characters",
                            extensions={"code": "INVALID_INPUT"})


def _has_nul(value: Any) -> bool:
    """Whether a document or its variables hold a NUL character (raw or `\\u0000`), which
    PostgreSQL text refuses: refused up front, it can reach neither a query nor a view."""
    if isinstance(value, str):
        return "\x00" in value or "\\u0000" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def _refused_nul() -> AsyncGenerator[Any, None]:
    yield ExecutionResult(data=None, errors=[_NUL_REFUSED])


async def _while_authenticated(source: StreamResult,
                               context: CareContext) -> AsyncGenerator[Any, None]:
    async with aclosing(source):
        async for result in source:
            if not await still_the_viewer(context):
                context.session_ended = True
                yield ExecutionResult(data=None, errors=[GraphQLError(
                    "the session has ended; sign in again",
                    extensions={"code": "UNAUTHENTICATED"})])
                return
            yield result


def build_schema(*, production: bool, answers: int = 0) -> CarelogSchema:
    """The schema; `answers` is how many answers to plain queries to keep (0: none)."""
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(ErrorCodes, production=production),
        partial(QueryDepthLimiter, max_depth=10),
        partial(MaxTokensLimiter, max_token_count=2000),
        partial(MaxAliasesLimiter, max_alias_count=15),
        # Dashboards send the same few documents again and again: parse and validate once.
        partial(ParserCache, maxsize=512),
        partial(ValidationCache, maxsize=512),
    ]
    if production:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    mutation = merge_types("Mutation", (Mutation, CareMutation, RoomMutation,
                                        KnowledgeMutation, AnnouncementMutation))
    query = merge_types("Query", (Query, RoomQuery, HistoryQuery, KnowledgeQuery,
                                  AnnouncementQuery, UserQuery))
    schema = CarelogSchema(query=query, mutation=mutation, subscription=Subscription,
                           extensions=extensions,
                           config=StrawberryConfig(auto_camel_case=True),
                           execution_context_class=CarelogExecutionContext)
    schema.answers = AnswerCache(answers) if answers > 0 else None
    return schema
