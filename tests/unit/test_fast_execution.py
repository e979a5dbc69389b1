"""The fast path for trivial leaf fields answers exactly what graphql-core and strawberry do.

Every test runs the same operation on the same schema twice, with Carelog's execution
context and with strawberry's own, and compares the data (key order included) and errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
import strawberry
from graphql import GraphQLError, GraphQLResolveInfo
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.permission import BasePermission
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema_directive import Location
from strawberry.types import Info

from api.graphql.execution import CarelogExecutionContext


@strawberry.enum
class Color(Enum):
    RED = "red"
    GREEN = "green"


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION])
class Tagged:
    tag: str


class Deny(BasePermission):
    message = "not allowed"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


class Upper(FieldExtension):
    def resolve(self, next_: Callable[..., Any], source: Any, info: Info,
                **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Money:
    amount: Decimal
    currency: str


@strawberry.type
class Row:
    s: str
    i: int
    f: float
    b: bool
    u: UUID
    dt: datetime
    d: date
    dec: Decimal
    color: Color
    j: JSON
    ns: str | None
    ni: int | None
    nf: float | None
    nb: bool | None
    nu: UUID | None
    ndt: datetime | None
    nd: date | None
    ndec: Decimal | None
    ncolor: Color | None
    nj: JSON | None
    money: Money
    denied: str = strawberry.field(default="secret", permission_classes=[Deny])
    shouted: str = strawberry.field(default="quiet", extensions=[Upper()])
    tagged: str = strawberry.field(default="tag", directives=[Tagged(tag="x")])

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.s.upper() * times

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        return self.i + 1

    @strawberry.field
    def nickname(self) -> str | None:
        return None


def full_row(n: int = 0) -> Row:
    return Row(
        s=f"row {n}", i=n, f=n + 0.5, b=n % 2 == 0,
        u=UUID(int=n + 1), dt=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), d=date(2026, 2, n + 1),
        dec=Decimal("12.30") + n, color=Color.GREEN if n % 2 else Color.RED,
        j=JSON({"n": n, "list": [1, "two", None]}),
        ns="x", ni=7, nf=1.25, nb=False, nu=UUID(int=99), ndt=datetime(2025, 12, 31),
        nd=date(2025, 1, 1), ndec=Decimal("0.001"), ncolor=Color.GREEN, nj=JSON([1, 2]),
        money=Money(amount=Decimal("10.00") * (n + 1), currency="EUR"))


def empty_row(n: int = 0) -> Row:
    return replace(full_row(n), ns=None, ni=None, nf=None, nb=None, nu=None, ndt=None, nd=None,
                   ndec=None, ncolor=None, nj=None)


# Rows broken on purpose: what each case's resolver hands out, fresh per execution.
BROKEN: dict[str, Callable[[], Row]] = {
    "none_in_non_null": lambda: replace(full_row(), s=None),  # type: ignore[arg-type]
    "bad_int": lambda: replace(full_row(), i="many"),  # type: ignore[arg-type]
    "bad_nullable_int": lambda: replace(full_row(), ni=2**40),
    "bad_float": lambda: replace(full_row(), f="x"),  # type: ignore[arg-type]
    "bad_enum": lambda: replace(full_row(), color="blue"),  # type: ignore[arg-type]
    "bad_nullable_enum": lambda: replace(full_row(), ncolor=3),  # type: ignore[arg-type]
    "bad_date": lambda: replace(full_row(), nd="2026-01-01"),  # type: ignore[arg-type]
    "exception_value": lambda: replace(full_row(), s=ValueError("stored")),  # type: ignore[arg-type]
    "nullable_exception": lambda: replace(full_row(), ns=ValueError("kept")),  # type: ignore[arg-type]
    "none_in_money": lambda: replace(full_row(), money=Money(amount=None, currency="EUR")),  # type: ignore[arg-type]
}

CASE = "none_in_non_null"


async def _coroutine(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


@strawberry.type
class Query:
    @strawberry.field
    def row(self) -> Row:
        return full_row()

    @strawberry.field
    def rows(self, count: int = 3) -> list[Row]:
        return [full_row(n) if n % 2 else empty_row(n) for n in range(count)]

    @strawberry.field
    async def async_rows(self, count: int = 3) -> list[Row]:
        await asyncio.sleep(0)
        return [full_row(n) for n in range(count)]

    @strawberry.field
    def broken(self) -> Row:
        return BROKEN[CASE]()

    @strawberry.field
    def maybe_broken(self) -> Row | None:
        return BROKEN[CASE]()

    @strawberry.field
    def broken_rows(self) -> list[Row | None]:
        return [full_row(0), BROKEN[CASE](), full_row(2)]

    @strawberry.field
    async def async_broken_rows(self) -> list[Row] | None:
        await asyncio.sleep(0)
        return [full_row(0), BROKEN[CASE]()]

    @strawberry.field
    def awaiting_row(self) -> Row:
        # Attributes holding awaitables: graphql-core awaits what a resolver returns.
        return replace(full_row(), s=_coroutine("awaited"),  # type: ignore[arg-type]
                       ni=_coroutine(None))  # type: ignore[arg-type]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> Row:
        return full_row(4)


def schemas(**kwargs: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    """(with the fast path, without it)."""
    return (strawberry.Schema(query=Query, mutation=Mutation,
                              execution_context_class=CarelogExecutionContext, **kwargs),
            strawberry.Schema(query=Query, mutation=Mutation, **kwargs))


FAST, PLAIN = schemas()

ALL_LEAVES = "s i f b u dt d dec color j ns ni nf nb nu ndt nd ndec ncolor nj"


def answer(schema: strawberry.Schema, query: str,
           variables: dict[str, Any] | None = None) -> tuple[str, list[Any]]:
    result = asyncio.run(schema.execute(query, variable_values=variables))
    errors = [e.formatted for e in result.errors or []]
    return json.dumps(result.data), errors


Pair = tuple[strawberry.Schema, strawberry.Schema]


def same(query: str, variables: dict[str, Any] | None = None,
         pair: Pair = (FAST, PLAIN)) -> tuple[str, list[Any]]:
    fast, plain = pair
    got = answer(fast, query, variables)
    assert got == answer(plain, query, variables)
    return got


@pytest.fixture
def case() -> Iterator[Callable[[str], None]]:
    def choose(name: str) -> None:
        global CASE
        CASE = name

    yield choose
    choose("none_in_non_null")


def test_every_scalar_kind_non_null_and_nullable_with_and_without_values() -> None:
    data, errors = same(f"{{ row {{ {ALL_LEAVES} }} rows {{ {ALL_LEAVES} }} }}")

    assert errors == []
    rows = json.loads(data)["rows"]
    assert (rows[0]["ns"], rows[1]["ns"]) == (None, "x")
    assert (rows[1]["color"], rows[0]["j"]) == ("GREEN", {"n": 0, "list": [1, "two", None]})


def test_aliases_and_the_same_field_twice() -> None:
    data, errors = same("{ rows { a: s s s b: i i color c: color ncolor n2: ncolor s } }")

    assert errors == []
    assert list(json.loads(data)["rows"][1]) == ["a", "s", "b", "i", "color", "c", "ncolor", "n2"]


@pytest.mark.parametrize("yes", [True, False])
def test_include_and_skip(yes: bool) -> None:
    same("query ($yes: Boolean!) { rows { s @include(if: $yes) i @skip(if: $yes) "
         "f @include(if: false) b @skip(if: false) u @include(if: true) "
         "d d2: d @include(if: $yes) } }", {"yes": yes})


def test_named_and_inline_fragments() -> None:
    same("""
        fragment Base on Row { s i color money { amount } }
        fragment More on Row { ...Base dec nj money { currency } }
        { rows { ...More ... on Row { s dt nd } ... { i ndec } } row { ...Base __typename } }
    """)


def test_resolvers_and_arguments_beside_trivial_fields() -> None:
    data, errors = same("{ rows(count: 4) { s shout(times: 2) i later nickname money "
                        "{ amount currency } b once: shout __typename } }")

    assert errors == []
    assert json.loads(data)["rows"][1]["once"] == "ROW 1"


def test_permissions_extensions_and_directives_keep_the_normal_path() -> None:
    data, errors = same("{ row { s denied shouted tagged i } }")

    assert json.loads(data) is None  # `denied` is non-null and refused
    assert [e["message"] for e in errors] == ["not allowed"]
    data, errors = same("{ row { s shouted tagged i } }")
    assert json.loads(data)["row"]["shouted"] == "QUIET"


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("field", ["broken", "maybeBroken", "brokenRows", "asyncBrokenRows"])
def test_errors_and_null_propagation_are_those_of_graphql_core(
        case: Callable[[str], None], name: str, field: str) -> None:
    case(name)

    _, errors = same(f"{{ row {{ s }} {field} {{ {ALL_LEAVES} later money {{ amount }} }} "
                        f"after: row {{ i }} }}")

    assert errors, "every broken row has an error"


def test_a_null_in_a_non_null_field_nulls_the_parent_with_graphql_cores_error() -> None:
    data, errors = same("{ maybeBroken { i s } brokenRows { s } }")

    assert json.loads(data) == {"maybeBroken": None, "brokenRows": [{"s": "row 0"}, None,
                                                                   {"s": "row 2"}]}
    assert errors[0]["message"] == "Cannot return null for non-nullable field Row.s."
    assert errors[0]["path"] == ["maybeBroken", "s"]
    assert errors[0]["locations"] == [{"line": 1, "column": 19}]


def test_async_resolvers_returning_lists_of_objects() -> None:
    data, errors = same(f"{{ asyncRows(count: 5) {{ {ALL_LEAVES} later shout money "
                        f"{{ amount }} }} rows {{ later s }} }}")

    assert errors == []
    assert len(json.loads(data)["asyncRows"]) == 5


def test_attributes_holding_awaitables_are_awaited() -> None:
    data, _ = same("{ awaitingRow { i s ni color } }")

    assert json.loads(data)["awaitingRow"]["s"] == "awaited"


def test_mutations_and_sync_execution() -> None:
    same(f"mutation {{ touch {{ {ALL_LEAVES} shout }} }}")
    query = f"{{ row {{ {ALL_LEAVES} shout }} rows {{ s ncolor }} }}"
    fast, plain = FAST.execute_sync(query), PLAIN.execute_sync(query)
    assert (json.dumps(fast.data), fast.errors) == (json.dumps(plain.data), plain.errors)


def test_a_custom_default_resolver_is_used() -> None:
    def shouting(obj: Any, name: str) -> Any:
        value = getattr(obj, name)
        return value.upper() if isinstance(value, str) else value

    data, _ = same(f"{{ rows {{ {ALL_LEAVES} }} }}",
                   pair=schemas(config=StrawberryConfig(default_resolver=shouting)))

    assert json.loads(data)["rows"][0]["s"] == "ROW 0"


class Whisper(SchemaExtension):
    def resolve(self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any],
                *args: Any, **kwargs: Any) -> Any:
        value = _next(root, info, *args, **kwargs)
        return value.lower() if isinstance(value, str) else value


def test_middleware_sees_every_field() -> None:
    data, _ = same("{ row { s color } }", pair=schemas(extensions=[Whisper]))

    assert json.loads(data)["row"]["s"] == "row 0"
    data, _ = same("{ row { shout } }", pair=schemas(extensions=[Whisper]))
    assert json.loads(data)["row"]["shout"] == "row 0"


def test_trivial_fields_skip_execute_field() -> None:
    calls: list[str] = []

    class Counting(CarelogExecutionContext):
        def execute_field(self, parent_type: Any, source: Any, field_details_list: Any,
                          path: Any, position_context: Any) -> Any:
            calls.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
            return super().execute_field(parent_type, source, field_details_list, path,
                                         position_context)

    schema = strawberry.Schema(query=Query, execution_context_class=Counting)
    _, errors = answer(schema, f"{{ rows {{ {ALL_LEAVES} shout money {{ amount }} }} }}")

    assert errors == []
    assert calls == ["Query.rows"] + ["Row.shout", "Row.money"] * 3


def test_an_error_is_a_located_graphql_error() -> None:
    result = FAST.execute_sync("{ maybeBroken { s } }")

    assert result.errors is not None
    error = result.errors[0]
    assert isinstance(error, GraphQLError)
    assert isinstance(error.original_error, TypeError)
    assert error.path == ["maybeBroken", "s"]


def test_deferred_fragments() -> None:
    config = StrawberryConfig(enable_experimental_incremental_execution=True)
    fast, plain = schemas(config=config)
    query = "{ rows { s ... @defer { i color ns } } }"

    async def frames(schema: strawberry.Schema) -> list[Any]:
        result: Any = await schema.execute(query)  # initial result, then the deferred parts
        return [result.initial_result.formatted] + [
            r.formatted async for r in result.subsequent_results]

    got = asyncio.run(frames(fast))
    assert got == asyncio.run(frames(plain))
    assert got[1]["incremental"][1]["data"] == {"i": 1, "color": "GREEN", "ns": "x"}
