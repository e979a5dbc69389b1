"""The schema: queries, mutations and the extensions every operation passes through."""

from __future__ import annotations

from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from graphql.validation import NoSchemaIntrospectionCustomRule

from api.graphql.errors import CarelogSchema, ErrorCodes
from api.graphql.mutations import Mutation
from api.graphql.queries import Query


def build_schema(*, production: bool) -> CarelogSchema:
    extensions = [
        ErrorCodes(),
        QueryDepthLimiter(max_depth=10),
        MaxTokensLimiter(max_token_count=2000),
        MaxAliasesLimiter(max_alias_count=15),
    ]
    if production:
        extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return CarelogSchema(query=Query, mutation=Mutation, extensions=extensions,
                         config=StrawberryConfig(auto_camel_case=True))
