"""`SharedLog`: projectors following the log share one read and one decoding of each page,
and every projector still sees exactly what the log holds, wherever it reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import Notification

from projections.shared_log import SharedLog


class ListLog:
    """A log in memory, with holes where writes were rolled back; counts reads and decodings."""

    def __init__(self) -> None:
        self.rows: list[Notification] = []
        self.reads = 0
        self.decoded = 0

    def write(self, *ids: int) -> None:
        self.rows += [Notification(id=i, originator_id=uuid4(), originator_version=1,
                                   topic="t", state=str(i).encode()) for i in ids]

    def notifications(self, after: int, limit: int) -> Sequence[Notification]:
        self.reads += 1
        return [n for n in self.rows if n.id > after][:limit]

    def decode(self, notification: Notification) -> Any:
        self.decoded += 1
        return {"id": notification.id}

    def head(self) -> int:
        return self.rows[-1].id if self.rows else 0


def _ids(page: Sequence[Notification]) -> list[int]:
    return [n.id for n in page]


def test_projectors_at_the_same_position_share_one_read_and_one_decoding() -> None:
    log = ListLog()
    log.write(1, 2, 3, 5, 6)  # 4 was rolled back
    shared = SharedLog(log)
    for _ in range(10):
        page = shared.notifications(0, 500)
        assert _ids(page) == [1, 2, 3, 5, 6]
        assert [shared.decode(n) for n in page] == [{"id": i} for i in (1, 2, 3, 5, 6)]
    assert log.reads == 2  # the page, and one look past its end that found nothing
    assert log.decoded == 5


def test_new_writes_are_read_once_and_a_page_never_skips_or_repeats() -> None:
    log = ListLog()
    log.write(1, 2)
    shared = SharedLog(log)
    assert _ids(shared.notifications(0, 500)) == [1, 2]
    assert _ids(shared.notifications(2, 500)) == []
    log.write(3, 4)
    shared.moved()
    assert _ids(shared.notifications(2, 500)) == [3, 4]
    assert _ids(shared.notifications(0, 500)) == [1, 2, 3, 4]  # a slower projector
    assert _ids(shared.notifications(1, 2)) == [2, 3]  # a page limit inside the tail
    assert _ids(shared.notifications(4, 500)) == []
    assert _ids(shared.notifications(4, 500)) == []
    assert log.reads == 4  # two pages, and two looks past their end that found nothing


def test_a_write_nobody_announced_is_found_once_the_quiet_time_passed() -> None:
    log = ListLog()
    shared = SharedLog(log, quiet=0.01)
    assert _ids(shared.notifications(0, 500)) == []
    log.write(1)  # by another process
    assert _ids(shared.notifications(0, 500)) == []
    time.sleep(0.02)
    assert _ids(shared.notifications(0, 500)) == [1]


def test_a_projector_behind_the_kept_tail_reads_the_log_itself() -> None:
    log = ListLog()
    log.write(*range(1, 101))
    shared = SharedLog(log, keep=10, quiet=0)
    assert _ids(shared.notifications(0, 100))[-1] == 100
    reads = log.reads
    # Only the last 10 are kept; a projector at 50 reads the log, and gets the same.
    assert _ids(shared.notifications(50, 5)) == [51, 52, 53, 54, 55]
    assert log.reads == reads + 1
    assert _ids(shared.notifications(95, 500)) == [96, 97, 98, 99, 100]
    assert log.reads == reads + 2  # inside the tail; at its end, so the log is asked for more
    log.write(101)
    assert _ids(shared.notifications(100, 500)) == [101]


def test_a_projector_ahead_of_the_tail_starts_a_new_one_there() -> None:
    log = ListLog()
    log.write(*range(1, 21))
    shared = SharedLog(log)
    assert _ids(shared.notifications(0, 5)) == [1, 2, 3, 4, 5]
    assert _ids(shared.notifications(15, 500)) == [16, 17, 18, 19, 20]
    assert _ids(shared.notifications(17, 2)) == [18, 19]
    assert _ids(shared.notifications(3, 3)) == [4, 5, 6]  # behind the new tail: from the log


def test_decoding_outside_the_tail_is_not_kept() -> None:
    log = ListLog()
    log.write(1, 2, 3)
    shared = SharedLog(log)
    (outside,) = log.notifications(2, 1)
    shared.decode(outside)
    shared.decode(outside)
    assert log.decoded == 2


def test_a_long_page_past_the_kept_size_skips_nothing() -> None:
    log = ListLog()
    log.write(*range(1, 11))
    shared = SharedLog(log, keep=5, quiet=0)
    assert _ids(shared.notifications(8, 500)) == [9, 10]
    log.write(*range(11, 1001))
    assert _ids(shared.notifications(10, 500)) == list(range(11, 511))
    assert _ids(shared.notifications(510, 3)) == [511, 512, 513]


def test_projectors_in_threads_each_read_the_whole_log_in_order() -> None:
    log = ListLog()
    shared = SharedLog(log, keep=50, quiet=0.001)
    seen: list[list[int]] = [[] for _ in range(8)]

    def follow(mine: list[int], page: int) -> None:
        while len(mine) < 600:
            found = shared.notifications(mine[-1] if mine else 0, page)
            mine += [shared.decode(n)["id"] for n in found]

    threads = [threading.Thread(target=follow, args=(mine, 7 + 13 * i))
               for i, mine in enumerate(seen)]
    for thread in threads:
        thread.start()
    for first in range(1, 1000, 3):  # the writer skips every third id (rolled back)
        log.write(first, first + 1)
        shared.moved()
    for thread in threads:
        thread.join(10)
    expected = [i for i in range(1, 1000) if i % 3 != 0][:600]
    assert all(mine[:600] == expected for mine in seen)


def test_catching_up_to_the_head_finds_writes_nobody_announced() -> None:
    log = ListLog()
    shared = SharedLog(log, quiet=60)
    assert _ids(shared.notifications(0, 500)) == []
    log.write(1, 2)
    assert _ids(shared.notifications(0, 500)) == []  # within the quiet time
    assert shared.head() == 2
    assert _ids(shared.notifications(0, 500)) == [1, 2]
