"""`carelog import` as a user runs it: a dry run, the import, the same import again, a
rejection report, the views caught up; a Zendesk API on loopback; nothing readable."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from integrations.settings import Settings
from tests.e2e.test_import_csv import write_files
from tests.e2e.test_import_helpdesks import ZENDESK_TOKEN, ZENDESK_USER, zendesk_pages
from tests.helpdesk_server import serving
from tests.live import CARELOG, environment

pytestmark = pytest.mark.e2e


def carelog(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CARELOG, *args], env={**environment(settings), "COLUMNS": "200"},
                          cwd=cwd, text=True, capture_output=True, timeout=240, check=False)


def status(settings: Settings, cwd: Path) -> dict[str, object]:
    result = carelog(settings, "status", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_import_csv_command(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings("sqlite")
    files = write_files(tmp_path / "history")
    report = tmp_path / "rejected.jsonl"

    dry = carelog(settings, "import", "csv", str(files), "--timezone", "Europe/Berlin",
                  "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing written" in dry.stderr
    assert status(settings, tmp_path)["head"] == 0

    first = carelog(settings, "import", "csv", str(files), "--timezone", "Europe/Berlin",
                    "--report", str(report), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Import from csv" in first.stderr
    assert "5 rejected rows listed" in first.stderr
    rejected = [json.loads(line) for line in report.read_text().splitlines()]
    assert {(r["file"], r["line"]) for r in rejected} == {
        ("accounts.csv", 5), ("revenue.csv", 7), ("contacts.csv", 4), ("tickets.csv", 10),
        ("nps.csv", 4)}
    after = status(settings, tmp_path)
    assert isinstance(after["head"], int)
    assert after["head"] > 0
    workers = after["workers"]
    assert isinstance(workers, list)
    assert all(w["lag_events"] == 0 for w in workers)  # the views show the import at once

    again = carelog(settings, "import", "csv", str(files), "--timezone", "Europe/Berlin",
                    cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert status(settings, tmp_path)["head"] == after["head"]
    ticket_row = next(line for line in again.stderr.splitlines() if "│ ticket" in line)
    # rows, created, already present, added to present, rejected
    assert [c.strip() for c in ticket_row.split("│")[1:6]] == ["ticket", "0", "8", "0", "1"]

    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = carelog(settings, "import", "csv", str(empty), cwd=tmp_path)
    assert nothing.returncode == 1
    assert "no file of a known kind" in nothing.stderr
    bad_zone = carelog(settings, "import", "csv", str(files), "--timezone", "Mars/Base",
                       cwd=tmp_path)
    assert bad_zone.returncode == 2
    assert "unknown time zone" in bad_zone.stderr
    assert "tickets.csv: id, account, opened" in carelog(
        settings, "import", "csv", "--help", cwd=tmp_path).stdout


def test_import_zendesk_command_from_the_api(make_settings: Callable[..., Settings],
                                             tmp_path: Path) -> None:
    settings = make_settings("sqlite")
    with serving(zendesk_pages()) as base:
        refused = carelog(settings, "import", "zendesk", "--url", base, "--email", ZENDESK_USER,
                          "--token", "wrong", cwd=tmp_path)
        assert refused.returncode == 1
        assert "refused the credentials" in refused.stderr
        imported = carelog(settings, "import", "zendesk", "--url", base, "--email",
                           ZENDESK_USER, "--token", ZENDESK_TOKEN, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "Import from zendesk" in imported.stderr
    ticket_row = next(line for line in imported.stderr.splitlines() if "│ ticket" in line)
    assert [c.strip() for c in ticket_row.split("│")[1:6]] == ["ticket", "4", "0", "0", "2"]
    neither = carelog(settings, "import", "zendesk", cwd=tmp_path)
    assert neither.returncode == 2
    assert "give either --dir or --url" in neither.stderr
