"""One contract for the `TicketTracker` port, run on the fake and on the Jira adapter against
the Jira stub: what the reactor relies on must hold for both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.ports import (
    IssueDraft,
    TicketTracker,
    TrackerOutcomeUnknownError,
    TrackerUnavailableError,
)
from integrations.jira.adapter import JiraTicketTracker
from integrations.jira.fake import FakeTicketTracker
from integrations.settings import JiraSettings, Secret
from tests.jira_server import JiraStub, jira_stub

pytestmark = pytest.mark.integration

DRAFT = IssueDraft(summary="Export to Excel", description="Monthly reports",
                   labels=("carelog-feedback", "carelog-feedback-f1"), label="carelog-feedback-f1")


@pytest.fixture(params=["fake", "jira-server", "jira-cloud"])
def tracker(request: pytest.FixtureRequest) -> Iterator[TicketTracker]:
    if request.param == "fake":
        yield FakeTicketTracker()
        return
    deployment = "Cloud" if request.param == "jira-cloud" else "Server"
    with jira_stub(deployment=deployment) as stub:
        yield JiraTicketTracker(JiraSettings(url=stub.url, token=Secret(stub.token),
                                             timeout=2.0))


def test_a_created_issue_is_found_by_its_label_and_read_by_key(tracker: TicketTracker):
    assert tracker.find(DRAFT.label) == []
    key = tracker.create(DRAFT)

    (found,) = tracker.find(DRAFT.label)
    assert found.key == key
    assert DRAFT.label in found.labels
    assert found.status_category == "new"
    assert tracker.get(key) == found
    assert tracker.find("carelog-feedback-other") == []


def test_a_missing_key_reads_as_none(tracker: TicketTracker):
    assert tracker.get("FEED-404") is None


def test_update_keeps_the_label_findable(tracker: TicketTracker):
    key = tracker.create(DRAFT)
    tracker.update(key, IssueDraft("Excel and CSV", "More", DRAFT.labels, DRAFT.label))
    assert [i.key for i in tracker.find(DRAFT.label)] == [key]


def test_a_comment_with_the_same_marker_is_added_once(tracker: TicketTracker):
    key = tracker.create(DRAFT)
    assert tracker.comment_once(key, "[carelog-sync f1 accounts=2]", "Initech joined")
    assert not tracker.comment_once(key, "[carelog-sync f1 accounts=2]", "Initech joined")
    assert tracker.comment_once(key, "[carelog-sync f1 accounts=3]", "Hooli joined")


@pytest.fixture
def stub() -> Iterator[JiraStub]:
    with jira_stub() as server:
        yield server


def adapter(stub: JiraStub, token: str | None = None, user: str | None = None
            ) -> JiraTicketTracker:
    return JiraTicketTracker(JiraSettings(url=stub.url, token=Secret(token or stub.token),
                                          user=user, timeout=2.0))


def test_the_adapter_sends_the_personal_access_token_as_bearer(stub: JiraStub):
    adapter(stub).find("x")
    with pytest.raises(TrackerUnavailableError) as refused:
        adapter(stub, token="wrong").find("x")
    assert refused.value.status == 401


def test_the_adapter_sends_a_cloud_api_token_with_its_user_as_basic_auth(stub: JiraStub):
    adapter(stub, user="cloud-bot").find("x")
    with pytest.raises(TrackerUnavailableError):
        adapter(stub, user="someone-else").find("x")


def test_rate_limits_are_reported_at_once_with_jiras_retry_after(stub: JiraStub):
    tracker = adapter(stub)
    tracker.find("x")  # connected
    stub.faults.unavailable_until, stub.faults.unavailable_status = 1e12, 429
    stub.faults.retry_after = 120

    with pytest.raises(TrackerUnavailableError) as limited:
        tracker.create(DRAFT)

    assert limited.value.retry_after == 120  # and no 20-second sleep inside the package
    assert len(stub.issues) == 0


def test_a_dropped_answer_to_a_create_is_an_unknown_outcome(stub: JiraStub):
    stub.faults.drop_after_create = 1
    with pytest.raises(TrackerOutcomeUnknownError):
        adapter(stub).create(DRAFT)
    assert len(stub.issues_with_label(DRAFT.label)) == 1


def test_an_unreachable_jira_created_nothing(stub: JiraStub):
    tracker = adapter(stub)
    stub.stop()
    with pytest.raises(TrackerUnavailableError):
        tracker.create(DRAFT)
