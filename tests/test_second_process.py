"""Verify's second process, which vets the file and reads the blocks while the engine computes."""

from __future__ import annotations

import multiprocessing
import os

import pytest

import bnsheet
from bnsheet.checking import second_process
from bnsheet.errors import EngineError


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return bnsheet.build(tmp_path_factory.mktemp("stored") / "w.xlsx", n=6, d=3)


def test_without_fork_the_file_is_vetted_and_read_in_this_process(built, monkeypatch):
    def no_fork(method=None):
        raise ValueError(f"cannot find context for {method!r}")

    monkeypatch.setattr(multiprocessing, "get_context", no_fork)
    report = bnsheet.verify(built)
    assert report.ok, report.to_text()


def test_a_reader_that_dies_is_an_engine_error_not_a_hang(built, monkeypatch):
    def die(book, areas):
        os._exit(3)  # in the forked reader: as if it were killed

    monkeypatch.setattr(second_process, "read", die)
    with pytest.raises(EngineError, match="stopped without an answer"):
        bnsheet.verify(built)


def test_a_fault_in_the_reader_reaches_the_caller_with_what_it_was(built, monkeypatch):
    def fail(book, areas):
        raise KeyError("C7")

    monkeypatch.setattr(second_process, "read", fail)
    with pytest.raises(RuntimeError, match="KeyError: 'C7'"):
        bnsheet.verify(built)


def test_a_reader_that_hangs_is_stopped_after_the_timeout(built, monkeypatch):
    import time

    def hang(book, areas):
        time.sleep(60)

    monkeypatch.setattr(second_process, "read", hang)
    monkeypatch.setattr(second_process, "TIMEOUT", 1.0)
    started = time.monotonic()
    with pytest.raises(EngineError, match="no answer in 1 s"):
        bnsheet.verify(built)
    assert time.monotonic() - started < 30
