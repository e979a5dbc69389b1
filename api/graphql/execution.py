"""Execution with a fast path for trivial leaf fields.

Long answers (e.g. `portfolio(top: 200)`: 200 rows of ~17 scalars) were dominated by
graphql-core's and strawberry's per-field machinery: `execute_field` builds a resolve info,
calls strawberry's `_get_basic_result` -> `StrawberryField.get_result` -> `getattr`, then
`complete_value` -> `complete_leaf_value` -> `coerce_output_value`; about 7 µs per field.

Most of those fields are *trivial*: a plain attribute of the source object returned as a
scalar or enum. For them the answer is just `coerce_output_value(getattr(source, name))`.
`CarelogExecutionContext.execute_fields` decides once per (parent type, grouped field set)
which fields are trivial (the grouped field sets are memoized by graphql-core, so a list
of 200 objects shares one plan) and for those reads and coerces the value in place,
reproducing graphql-core's completion and error semantics; every other field takes the
normal path, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from graphql import (
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField

__all__ = ["CarelogExecutionContext"]

# Values of these exact types are neither awaitable nor exceptions, so they skip
# graphql-core's `is_awaitable` and `isinstance(result, Exception)` checks.
_PLAIN_TYPES: frozenset[type] = frozenset(
    {str, int, float, bool, UUID, datetime, date, Decimal, dict, list})

# Strawberry's resolver for a field without resolver, permissions or extensions: it calls
# `field.get_result(source, None, [], {})`, i.e. `field.default_resolver(source, python_name)`.
_BASIC_RESOLVER_NAME = "_get_basic_result"


class _Leaf(NamedTuple):
    """How to answer one trivial field: what `execute_field` would work out each time."""

    read: Callable[[Any, str], Any]  # the field's default resolver (getattr unless configured)
    python_name: str
    coerce: Callable[[Any], Any]  # the leaf type's `coerce_output_value`
    leaf_type: GraphQLLeafType
    return_type: GraphQLOutputType
    non_null: bool
    null_message: str  # graphql-core's message for None in a non-null field


# Per response name: its field details and, for a trivial field, how to answer it.
_Plan = Sequence[tuple[str, FieldDetailsList, _Leaf | None]]


class CarelogExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, answering trivial leaf fields without a resolver call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (parent type, id of grouped field set) -> (the grouped field set, kept alive so its
        # id is not reused, and its plan, None when no field is trivial). Sub-executors for
        # @defer/@stream are shallow copies and share it.
        self._plans: dict[tuple[GraphQLObjectType, int],
                          tuple[GroupedFieldSet, _Plan | None]] = {}

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, grouped_field_set: GroupedFieldSet,
                       position_context: Any) -> AwaitableOrValue[dict[str, Any]]:
        key = (parent_type, id(grouped_field_set))
        cached = self._plans.get(key)
        if cached is None:
            cached = (grouped_field_set, self._plan(parent_type, grouped_field_set))
            self._plans[key] = cached
        plan = cached[1]
        if plan is None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                          position_context)

        # graphql-core's `execute_fields`, with trivial fields answered inline.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, leaf in plan:
                if leaf is None:
                    result = self.execute_field(parent_type, source_value, field_details_list,
                                                Path(path, response_name, parent_type.name),
                                                position_context)
                    if result is not Undefined:
                        results[response_name] = result
                        if is_awaitable(result):
                            awaitable_fields.append(response_name)
                    continue
                try:
                    value = leaf.read(source_value, leaf.python_name)
                    if type(value) not in _PLAIN_TYPES:
                        if is_awaitable(value):
                            # Rare (an attribute holding an awaitable): the normal path.
                            results[response_name] = self._complete_awaitable(
                                parent_type, field_details_list, path, response_name, value,
                                position_context)
                            awaitable_fields.append(response_name)
                            continue
                        if isinstance(value, Exception):
                            raise value
                        if value is None or value is Undefined:
                            if leaf.non_null:
                                raise TypeError(leaf.null_message)
                            results[response_name] = None
                            continue
                    coerced = leaf.coerce(value)
                    if coerced is None or coerced is Undefined:
                        # graphql-core's own error for a coercion to null.
                        coerced = self.complete_leaf_value(leaf.leaf_type, value)
                    results[response_name] = coerced
                except Exception as raw_error:
                    # Located like graphql-core does; re-raised for a non-null field, so the
                    # null propagates to the parent.
                    self.handle_field_error(raw_error, leaf.return_type, field_details_list,
                                            Path(path, response_name, parent_type.name))
                    results[response_name] = None
        except Exception:
            if awaitable_fields:
                # As graphql-core: settle the other fields' awaitables, they may fail too.
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(
                    *(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _complete_awaitable(self, parent_type: GraphQLObjectType,
                            field_details_list: FieldDetailsList, path: Path | None,
                            response_name: str, value: Any, position_context: Any) -> Any:
        """What `execute_field` does with a resolver's awaitable result."""
        field_path = Path(path, response_name, parent_type.name)
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        assert field_def is not None  # the plan only holds fields of the parent type
        info = self.build_resolve_info(field_def, [d.node for d in field_details_list],
                                       parent_type, field_path)
        return self.complete_awaitable_value(field_def.type, field_details_list, info,
                                             field_path, value, position_context)

    def _plan(self, parent_type: GraphQLObjectType,
              grouped_field_set: GroupedFieldSet) -> _Plan | None:
        """The plan for these fields, or None when none is trivial (or middleware runs)."""
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            # Middleware (e.g. strawberry extensions with `resolve`) must see every field.
            return None
        plan = [(name, details, self._trivial_leaf(parent_type, details))
                for name, details in grouped_field_set.items()]
        if all(leaf is None for _, _, leaf in plan):
            return None
        return plan

    def _trivial_leaf(self, parent_type: GraphQLObjectType,
                      field_details_list: FieldDetailsList) -> _Leaf | None:
        """How to answer this field inline, or None if it must take the normal path."""
        nodes = [details.node for details in field_details_list]
        if any(node.arguments or node.directives for node in nodes):
            return None
        field_name = nodes[0].name.value
        field_def = self.schema.get_field(parent_type, field_name)
        if field_def is None or field_def.args or field_def.subscribe is not None:
            return None
        resolve = field_def.resolve
        if getattr(resolve, "__name__", None) != _BASIC_RESOLVER_NAME:
            return None
        field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(field, StrawberryField) or not _is_plain(field):
            return None
        return_type = field_def.type
        leaf_type = get_nullable_type(return_type)
        if not is_leaf_type(leaf_type):
            return None
        coerce = leaf_type.coerce_output_value
        if isinstance(leaf_type, CustomGraphQLEnumType):
            coerce = _memoized_enum(leaf_type)
        return _Leaf(
            read=field.default_resolver, python_name=field.python_name,
            coerce=coerce, leaf_type=leaf_type,
            return_type=return_type, non_null=is_non_null_type(return_type),
            null_message=f"Cannot return null for non-nullable field {parent_type}.{field_name}.")


def _is_plain(field: StrawberryField) -> bool:
    """A strawberry field that just returns its attribute: nothing runs around it."""
    return (field.base_resolver is None and not field.permission_classes
            and not field.extensions and not field.directives and not field.is_subscription)


def _memoized_enum(enum_type: CustomGraphQLEnumType) -> Callable[[Any], Any]:
    """`enum_type.coerce_output_value`, remembering the names of its own members.

    Strawberry's enum coercion scans the enum's values for each row; for a member of the
    wrapped enum class the name found depends on the member alone, so it is kept (per
    operation, as plans are). Anything else, and any failure, goes to the coercion itself.
    """
    coerce = enum_type.coerce_output_value
    wrapped_cls = enum_type.wrapped_cls
    # Keyed by identity (Enum.__hash__ is Python code); the member is kept to check it.
    names: dict[int, tuple[Any, Any]] = {}

    def coerce_member(value: Any) -> Any:
        if type(value) is not wrapped_cls:
            return coerce(value)
        known = names.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        name = coerce(value)
        names[id(value)] = (value, name)
        return name

    return coerce_member
