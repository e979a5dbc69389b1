"""The polling offset and the recent-update memory (C6 at the update level)."""

from __future__ import annotations

import pytest

from integrations.telegram.dedupe import SeenUpdates, UpdateOffset


def test_the_offset_starts_unset_and_follows_the_highest_handled_update() -> None:
    offset = UpdateOffset()
    assert offset.next is None
    for update_id in (10, 10, 12, 11):
        offset.handled(update_id)
    assert offset.next == 13


def test_the_offset_jumps_to_a_non_sequential_id() -> None:
    offset = UpdateOffset(13)
    offset.handled(987654)
    assert offset.next == 987655


def test_c6_each_update_is_handled_once_whatever_the_order() -> None:
    seen = SeenUpdates()
    handled = [u for u in (10, 10, 12, 11, 987654, 12) if seen.add(u)]
    assert handled == [10, 12, 11, 987654]
    assert 11 in seen
    assert 13 not in seen


def test_the_memory_forgets_the_oldest_beyond_its_capacity() -> None:
    seen = SeenUpdates(capacity=3)
    for update_id in (1, 2, 3):
        seen.add(update_id)
    assert not seen.add(1)  # refreshed: now the newest
    seen.add(4)
    assert (1 in seen, 2 in seen, 3 in seen, 4 in seen) == (True, False, True, True)
    assert len(seen) == 3


def test_the_memory_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="capacity"):
        SeenUpdates(capacity=0)
