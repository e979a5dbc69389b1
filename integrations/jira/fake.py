"""`FakeTicketTracker`: an in-memory Jira for unit tests, with the port's contract."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.ports import IssueDraft, TrackedIssue


@dataclass
class FakeIssue:
    key: str
    draft: IssueDraft
    comments: list[str] = field(default_factory=list)
    status_id: str = "10000"
    status_category: str = "new"


class FakeTicketTracker:
    """Issues in a dict, found by label at once (the Jira server in tests/ lags like Jira)."""

    def __init__(self, project: str = "FEED") -> None:
        self.project = project
        self.issues: dict[str, FakeIssue] = {}

    def find(self, label: str) -> list[TrackedIssue]:
        return [self._tracked(i) for _, i in sorted(self.issues.items())
                if label in i.draft.labels]

    def get(self, key: str) -> TrackedIssue | None:
        issue = self.issues.get(key)
        return None if issue is None else self._tracked(issue)

    def create(self, draft: IssueDraft) -> str:
        key = f"{self.project}-{len(self.issues) + 1}"
        self.issues[key] = FakeIssue(key, draft)
        return key

    def update(self, key: str, draft: IssueDraft) -> None:
        self.issues[key].draft = draft

    def comment_once(self, key: str, marker: str, body: str) -> bool:
        issue = self.issues[key]
        if any(marker in c for c in issue.comments):
            return False
        issue.comments.append(f"{body}\n\n{marker}")
        return True

    @staticmethod
    def _tracked(issue: FakeIssue) -> TrackedIssue:
        return TrackedIssue(issue.key, issue.draft.labels, issue.status_id,
                            issue.status_category)
