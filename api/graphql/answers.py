"""Answers to queries, kept while the views they read are unchanged.

A view changes only when its projection commits events it handles, and each such commit gives
the view a new version (`ViewStore.versions`). An answer is kept with the versions of the views
it read, and given again to the same viewer, for the same document and variables, while those
versions hold: a dashboard polling the portfolio costs one small read instead of a GraphQL
execution of thousands of fields. Never kept: mutations and subscriptions, answers with errors,
answers that read the clock (SLA breach flags), and queries that wait for a position (`waitFor`),
whose answer must follow a write the views may not hold yet.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.types import ExecutionResult

from api.graphql.context import CareContext
from api.services import UNKNOWN_VIEW, VIEWS_READ

Execute = Callable[[], Awaitable[ExecutionResult]]


@dataclass(frozen=True, slots=True)
class _Answer:
    versions: tuple[tuple[str, str | None], ...]
    result: ExecutionResult


@lru_cache(maxsize=512)
def _is_plain_query(document: str, operation_name: str | None) -> bool:
    """A query operation (not a mutation or subscription) that does not wait for a position."""
    if "waitFor" in document:
        return False
    try:
        parsed = parse(document)
    except GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations
              if operation_name is None or (o.name is not None and o.name.value == operation_name)]
    return len(chosen) == 1 and chosen[0].operation == OperationType.QUERY


class AnswerCache:
    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._answers: OrderedDict[Hashable, _Answer] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def answer(self, document: str | None, variables: dict[str, Any] | None,
                     operation_name: str | None, context: Any,
                     execute: Execute) -> ExecutionResult:
        if (document is None or not isinstance(context, CareContext)
                or not _is_plain_query(document, operation_name)):
            return await execute()
        key = (document, json.dumps(variables or {}, sort_keys=True, default=str),
               operation_name, context.viewer)
        services = context.services
        # Read before executing: an answer is kept under versions no newer than its data.
        versions = await asyncio.to_thread(services.store.versions)
        kept = self._answers.get(key)
        if kept is not None and all(versions.get(v) == token for v, token in kept.versions):
            self._answers.move_to_end(key)
            self.hits += 1
            return kept.result
        self.misses += 1
        reads: set[str] = set()
        token = VIEWS_READ.set(reads)
        try:
            result = await execute()
        finally:
            VIEWS_READ.reset(token)
        if result.errors or context.uses_clock or UNKNOWN_VIEW in reads:
            return result
        self._answers[key] = _Answer(tuple((v, versions.get(v)) for v in sorted(reads)), result)
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)
        return result
