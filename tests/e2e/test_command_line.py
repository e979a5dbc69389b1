"""The `carelog` command as a user runs it: demo, rebuild, serve, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from integrations.settings import Settings
from tests.live import CARELOG, environment, serving

pytestmark = pytest.mark.e2e



def carelog(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CARELOG, *args], env=environment(settings), cwd=cwd, text=True,
                          capture_output=True, timeout=240, check=False)


def test_help_explains_every_command(tmp_path: Path) -> None:
    result = subprocess.run([CARELOG, "--help"], capture_output=True, text=True, check=True,
                            cwd=tmp_path)
    for command in ("serve", "demo", "rebuild"):
        assert command in result.stdout
    demo = subprocess.run([CARELOG, "demo", "--help"], capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    for option in ("--accounts", "--months", "--seed"):
        assert option in demo.stdout


def test_demo_then_rebuild_then_serve(backend: str, make_settings: Callable[..., Settings],
                                      tmp_path: Path) -> None:
    settings = make_settings(backend)
    seeded = carelog(settings, "demo", "--accounts", "12", "--months", "2", "--seed", "5",
                     cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "Demo data: 12 accounts" in seeded.stderr
    again = carelog(settings, "demo", "--accounts", "12", "--months", "2", "--seed", "5",
                    cwd=tmp_path)
    assert again.returncode == 0
    assert "Demo data: 0 accounts" in again.stderr

    rebuilt = carelog(settings, "rebuild", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "accounts:" in rebuilt.stderr
    assert "case_queues:" in rebuilt.stderr
    unknown = carelog(settings, "rebuild", "nosuch", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no projection named 'nosuch'" in unknown.stderr

    with serving(settings, cwd=tmp_path) as url:
        # The SLA clock starts with the server and may record breaches that fell due since
        # the demo was written: the views catch up with those within moments.
        deadline = time.monotonic() + 20
        while True:
            ready = httpx.get(f"{url}/readyz", timeout=5).json()
            assert ready["status"] == "ready"
            if all(v["lag"] == 0 for v in ready["views"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert all(v["lag"] == 0 for v in ready["views"])
        body = httpx.post(f"{url}/graphql", timeout=10, json={"query": """{
            accounts(first: 200, keyAccountsOnly: true) { edges { node { name rank
            arr { amount } cases(first: 1) { nodes { interactions { channel } } } } } } }"""})
        edges = body.json()["data"]["accounts"]["edges"]
        assert len(edges) == 12
        assert [e["node"]["rank"] for e in edges] == list(range(1, 13))


def test_serve_seeds_demo_data_into_an_empty_store(tmp_path: Path,
                                                   make_settings: Callable[..., Settings]
                                                   ) -> None:
    settings = make_settings("sqlite")
    with serving(settings, "--demo-if-empty", "--demo-accounts", "5", "--demo-months", "1",
                 cwd=tmp_path) as url:
        body = httpx.post(f"{url}/graphql", timeout=10,
                          json={"query": "{ accounts(first: 10) { edges { node { id } } } }"})
        assert len(body.json()["data"]["accounts"]["edges"]) == 5
        page = httpx.get(f"{url}/graphql", timeout=10, headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
    log = (tmp_path / "serve.log").read_text()
    assert "seeding demo data" in log


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "CARELOG_DATABASE_URL": "mysql://nope"}
    result = subprocess.run([CARELOG, "rebuild"], env=env, capture_output=True, text=True,
                            cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "CARELOG_DATABASE_URL must be a postgresql:// URL" in result.stderr
    assert "Traceback" not in result.stderr
