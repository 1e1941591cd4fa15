"""Turns for executing cells: at most ``--jobs`` at a time, and never kept by a job that died."""

from __future__ import annotations

import multiprocessing
import threading
import time

from autograder.gate import Gate, Keeper


def _pair(turns: threading.Semaphore) -> tuple[Gate, Keeper, object]:
    parent, child = multiprocessing.Pipe(duplex=True)
    return Gate(child), Keeper(parent, turns), child


def test_a_second_job_waits_until_the_first_gives_its_turn_back():
    turns = threading.Semaphore(1)
    first, first_keeper, _ = _pair(turns)
    second, second_keeper, _ = _pair(turns)
    first.enter()
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: (second.enter(), entered.set()))
    waiter.start()
    assert not entered.wait(0.5), "the second job ran while the first held the only turn"
    first.leave()
    assert entered.wait(5), "the second job never got the turn the first gave back"
    second.leave()
    waiter.join()
    first_keeper.close()
    second_keeper.close()
    assert turns.acquire(timeout=1), "a turn was lost"


def test_a_job_that_dies_holding_its_turn_gives_it_back_when_closed():
    turns = threading.Semaphore(1)
    gate, keeper, child = _pair(turns)
    gate.enter()
    child.close()  # the child is gone without saying "done"
    time.sleep(0.2)
    keeper.close()
    assert turns.acquire(timeout=1), "the dead job's turn was never returned"


def test_leaving_twice_returns_one_turn():
    turns = threading.Semaphore(1)
    gate, keeper, _ = _pair(turns)
    gate.enter()
    gate.leave()
    gate.leave()
    time.sleep(0.3)
    keeper.close()
    assert turns.acquire(timeout=1)
    assert not turns.acquire(timeout=0.2), "leaving twice returned two turns"
