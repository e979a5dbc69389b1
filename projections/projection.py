"""The base of every read model: a name, its tables, and one handler per event topic."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from projections.rows import Rows
from projections.schema import Table

Handler = Callable[[Any, Any, Rows, int], None]


def handles(*topics: str) -> Callable[[Handler], Handler]:
    """Mark a method as the fold of the events with these topics."""

    def mark(method: Handler) -> Handler:
        method.__handles__ = topics  # type: ignore[attr-defined]
        return method

    return mark


class Projection:
    """A pure fold of CareDesk events into rows.

    Subclasses set `name`, `version` (bump it when tables or folding change: the view is then
    rebuilt from the log) and `tables`, and mark handlers with `@handles(topic, ...)`.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    min_page_size: ClassVar[int] = 1
    """At least this many notifications per page when that many are waiting: a projection
    whose page-wide work is heavy (re-scoring accounts) catches up in fewer, larger pages."""
    tables: ClassVar[tuple[Table, ...]]
    _handlers: ClassVar[dict[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {}
        for attr, value in vars(cls).items():
            for topic in getattr(value, "__handles__", ()):
                cls._handlers[topic] = attr

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        """The rows folding this event will read, by table and (single-column) key.

        The runner reads them for a whole page in one statement per table; a projection that
        names nothing here still works, one read per row.
        """
        return ()

    def begin_page(self, after: int) -> None:
        """A page that follows log position `after` is about to be folded.

        Projections that keep state in memory between pages (see `finish_page`) drop it here
        unless `after` is where their last committed page ended.
        """

    def finish_page(self, rows: Rows, position: int) -> None:
        """Every event of the page up to `position` is folded; work that is cheaper once per
        page than once per event (re-scoring the accounts the page touched) goes here."""

    def committed(self, position: int) -> None:
        """The page ending at `position` is durable."""

    def passed(self, after: int, position: int) -> None:
        """The log from `after` to `position` holds none of the projection's topics: memory
        that matched the view at `after` matches it at `position` too."""

    def abandoned(self) -> None:
        """The page was rolled back: memory kept between pages may be ahead of the view."""

    def apply(self, topic: str, event: Any, rows: Rows, position: int) -> None:
        """Fold one event found at `position` in the log; other topics are ignored."""
        attr = self._handlers.get(topic)
        if attr is not None:
            getattr(self, attr)(event, rows, position)

