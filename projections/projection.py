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

    def finish_page(self, rows: Rows) -> None:
        """Called once a page's events are folded, before its rows are written.

        A projection that gathers changes across the events of a page (rather than rewrite a
        row for each) puts them into `rows` here. Nothing to do by default.
        """

    def apply(self, topic: str, event: Any, rows: Rows, position: int) -> None:
        """Fold one event found at `position` in the log; other topics are ignored."""
        attr = self._handlers.get(topic)
        if attr is not None:
            getattr(self, attr)(event, rows, position)
