"""Reading a source's export files or its HTTP API into lists of JSON records.

Both helpdesk readers take their records from `Records`: a directory of exported JSON files, or
pages fetched from the API with a token. Nothing else touches files or the network.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PAGE_LIMIT = 100_000  # pages per endpoint; a loop that never ends is a bug on the other side


class SourceError(Exception):
    """The source cannot be read at all (a missing directory, a refused login, bad JSON)."""


@dataclass(slots=True)
class Records:
    """JSON records per kind, each with the file (or URL) and position it was read at."""

    by_kind: dict[str, list[tuple[str, int, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list))
    files: list[str] = field(default_factory=list)
    _counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, kind: str, where: str, items: list[Any]) -> None:
        start = self._counts.get((kind, where), 0)
        for position, item in enumerate(items, start + 1):
            if isinstance(item, dict):
                self.by_kind[kind].append((where, position, item))
        self._counts[(kind, where)] = start + len(items)
        if where not in self.files:
            self.files.append(where)

    def of(self, kind: str) -> list[tuple[str, int, dict[str, Any]]]:
        return self.by_kind.get(kind, [])


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SourceError(f"{path.name} cannot be read as JSON: {error}") from error


def check_directory(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise SourceError(f"{directory} is not a directory")
    return sorted(p for p in directory.iterdir() if p.suffix.lower() == ".json")


def loopback_or_https(url: str) -> str:
    """API base URLs: https, or plain http only to this machine (tests, a local proxy)."""
    parsed = httpx.URL(url)
    if parsed.scheme == "https" or (parsed.scheme == "http" and parsed.host in (
            "127.0.0.1", "localhost", "::1")):
        return url.rstrip("/")
    raise SourceError(f"{url} must be an https URL (plain http only on loopback)")


class Api:
    """GET JSON pages with basic authentication, following the source's next links."""

    def __init__(self, base_url: str, auth: tuple[str, str], timeout: float = 30.0) -> None:
        self.base = loopback_or_https(base_url)
        self.client = httpx.Client(auth=auth, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    def get(self, url: str) -> httpx.Response:
        full = url if url.startswith(("http://", "https://")) else f"{self.base}{url}"
        if not full.startswith(self.base):
            raise SourceError(f"refusing to follow a link away from {self.base}: {full}")
        try:
            response = self.client.get(full)
        except httpx.HTTPError as error:
            raise SourceError(f"{full}: {error}") from error
        if response.status_code in (401, 403):
            raise SourceError(f"{full}: the API refused the credentials "
                              f"({response.status_code})")
        if response.status_code != 200:
            raise SourceError(f"{full}: HTTP {response.status_code}")
        return response

    def pages(self, url: str, next_of: Callable[[httpx.Response, Any], str | None]
              ) -> list[Any]:
        """Every page's JSON body, from `url` on, as long as `next_of` names another page."""
        bodies: list[Any] = []
        next_url: str | None = url
        while next_url is not None and len(bodies) < PAGE_LIMIT:
            response = self.get(next_url)
            try:
                body = response.json()
            except ValueError as error:
                raise SourceError(f"{next_url}: the answer is not JSON") from error
            bodies.append(body)
            next_url = next_of(response, body)
        return bodies
