"""The workers' shared count of open connections: a worker takes a new one only while it holds
no more than any other live worker. Two workers are played here by two views of one balance
(as after a fork: shared counts, a slot each)."""

from __future__ import annotations

import copy
import time

from cds_service.balance import STALE_S, ConnectionBalance


def _two_workers() -> tuple[ConnectionBalance, ConnectionBalance]:
    first = ConnectionBalance(2)
    second = copy.copy(first)  # shares the counts, as a forked worker does
    assert first.join(pid=101) and second.join(pid=102)
    return first, second


def test_a_worker_holding_more_than_another_waits_its_turn() -> None:
    first, second = _two_workers()
    assert first.may_accept() and second.may_accept()
    first.opened()
    assert not first.may_accept() and second.may_accept()
    second.opened()
    assert first.may_accept() and second.may_accept()
    first.opened()
    second.opened()
    second.closed()  # a connection of the second ends: its turn again, not the first's
    assert not first.may_accept() and second.may_accept()


def test_a_stuck_worker_does_not_hold_back_the_others() -> None:
    first, second = _two_workers()
    second.opened()
    first.opened()
    first.opened()
    assert not first.may_accept()
    second._ticks[second.slot] = time.monotonic() - STALE_S - 0.1  # no tick for too long
    assert first.may_accept()
    second.tick()
    assert not first.may_accept()


def test_a_worker_gone_frees_its_slot_for_the_one_that_replaces_it() -> None:
    first, second = _two_workers()
    first.opened()
    second.leave(pid=102)  # the arbiter reaps it
    assert first.may_accept()  # no live worker holds fewer
    third = copy.copy(first)
    assert third.join(pid=103)
    assert third.slot == 1
    assert not first.may_accept() and third.may_accept()


def test_a_worker_without_a_slot_accepts_freely_and_is_not_waited_for() -> None:
    first, second = _two_workers()
    extra = copy.copy(first)
    assert not extra.join(pid=104)  # more workers than slots
    extra.opened()
    assert extra.may_accept()
    first.opened()
    assert not first.may_accept() and second.may_accept()  # the extra one is not counted
