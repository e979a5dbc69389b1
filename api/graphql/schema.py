"""The schema: queries, mutations and the extensions every operation passes through."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig

from api.graphql.errors import CarelogSchema, ErrorCodes
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.subscriptions import Subscription


def build_schema(*, production: bool) -> CarelogSchema:
    extensions: list[Callable[[], SchemaExtension]] = [
        ErrorCodes,
        partial(QueryDepthLimiter, max_depth=10),
        partial(MaxTokensLimiter, max_token_count=2000),
        partial(MaxAliasesLimiter, max_alias_count=15),
    ]
    if production:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return CarelogSchema(query=Query, mutation=Mutation, subscription=Subscription,
                         extensions=extensions,
                         config=StrawberryConfig(auto_camel_case=True))
