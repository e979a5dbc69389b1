"""`carelog worker jira` killed (SIGKILL) while Jira is creating its issue: the next worker
finds that issue through Jira's lagging search instead of posting a second one (matrix C3)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from api.runtime import Runtime
from domain.feedback import feedback_label
from integrations.settings import JiraSettings, Secret, Settings
from tests.jira_server import jira_stub
from tests.live import CARELOG, environment

pytestmark = pytest.mark.fault


def test_a_worker_killed_mid_create_leaves_one_issue(
        make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    with jira_stub() as stub:
        settings = make_settings("postgres", nats_url="nats://127.0.0.1:9",
                                 jira=JiraSettings(url=stub.url, token=Secret(stub.token)))
        env = {**environment(settings), "CARELOG_JIRA_URL": stub.url,
               "CARELOG_JIRA_TOKEN": stub.token, "CARELOG_JIRA_RECONCILE_SECONDS": "120"}

        def worker(name: str) -> subprocess.Popen[bytes]:
            log = (tmp_path / f"{name}.log").open("wb")
            return subprocess.Popen([CARELOG, "worker", "jira"], env=env, cwd=tmp_path,
                                    stdout=log, stderr=subprocess.STDOUT)

        runtime = Runtime.open(settings)
        try:
            made = runtime.desk.open_account(name="Acme GmbH", tier="business", manager="Ann",
                                             currency="EUR", actor="staff:ann")
            feedback_id = runtime.desk.submit_feedback(
                account_id=made.ids["accountId"], product_area="Reporting",
                title="Excel export", text="Please", actor="staff:ann").ids["feedbackId"]
            for runner in runtime.runners:
                runner.catch_up()
            stub.faults.create_delay = 2.0
            stub.faults.search_lag = 4.0

            first = worker("first")
            assert stub.create_started.wait(60), (tmp_path / "first.log").read_text()
            first.kill()  # our own child, by its pid: mid-request, the intent already saved
            first.wait(10)
            assert runtime.desk.feedback(feedback_id).create_attempted_at is not None

            second = worker("second")
            try:
                deadline = time.monotonic() + 60
                while runtime.desk.feedback(feedback_id).jira_key is None:
                    assert second.poll() is None, (tmp_path / "second.log").read_text()
                    assert time.monotonic() < deadline, (tmp_path / "second.log").read_text()
                    for runner in runtime.runners:
                        runner.catch_up()
                    time.sleep(0.2)
            finally:
                second.terminate()
                second.wait(30)
            (issue,) = stub.issues_with_label(feedback_label(feedback_id))
            assert runtime.desk.feedback(feedback_id).jira_key == issue.key
            assert stub.creates() == 1
        finally:
            runtime.close()
