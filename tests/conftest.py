"""Fixtures shared by every tier: settings per backend, a fresh PostgreSQL database per test,
the runtime (log, views, projectors) and an HTTP client on the app.

PostgreSQL is the server on 127.0.0.1:5432 (override with CARELOG_TEST_POSTGRES). Each test
gets a database of its own, created and dropped here; nothing else is touched. When the
server is missing the PostgreSQL tests skip on a developer machine and fail under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar.testing import TestClient
from psycopg import sql

from api.app import create_app
from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.settings import Settings
from tests.servers import NatsServer

ADMIN_URL = os.environ.get("CARELOG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ("sqlite", "postgres")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _server_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI must run every test against the real server")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """The URL of a database we may create and drop databases from."""
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        _server_missing(f"PostgreSQL at {ADMIN_URL}", error)
    return ADMIN_URL


def _with_dbname(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture
def new_postgres_database(postgres_admin: str) -> Iterator[Callable[[], str]]:
    """Makes fresh databases (named carelog_test_*) and drops exactly those afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"carelog_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return _with_dbname(postgres_admin, name)

    yield make
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Path,
                  request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Settings for a backend: SQLite files under tmp_path, or a fresh PostgreSQL database."""

    def make(backend: str, **overrides: Any) -> Settings:
        if backend == "sqlite":
            base = Settings(data_dir=tmp_path / f"var-{uuid.uuid4().hex[:6]}")
        else:
            factory = request.getfixturevalue("new_postgres_database")
            base = Settings(database_url=factory(), data_dir=tmp_path / "var")
        return Settings(**{**base.__dict__, **overrides})

    return make


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(backend)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def runtime(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    rt = Runtime.open(settings, clock)
    yield rt
    rt.close()


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient[Any]]:
    """An HTTP client on the app, with the projectors following the log in the background."""
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as test_client:
        yield test_client


class GraphQLError(AssertionError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code", "") for e in self.errors]


GraphQL = Callable[..., dict[str, Any]]


@pytest.fixture
def gql(client: TestClient[Any]) -> GraphQL:
    """POST a GraphQL operation; returns `data`, or raises `GraphQLError` carrying the errors."""

    def run(query: str, **variables: Any) -> dict[str, Any]:
        response = client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        return dict(body["data"])

    return run


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A nats-server with JetStream shared by the tests that do not break it."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test alone, for tests that kill, stop or restart it."""
    server = NatsServer(tmp_path / "nats")
    server.workdir.mkdir()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def nats_prefix() -> str:
    """Subjects and stream of this test alone on a shared server."""
    return f"t{uuid.uuid4().hex[:10]}"
