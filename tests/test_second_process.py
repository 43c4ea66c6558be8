"""Verify's second process, which vets the file and reads the blocks while the engine computes."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

import bnsheet
from bnsheet.checking import second_process
from bnsheet.errors import EngineError


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return bnsheet.build(tmp_path_factory.mktemp("stored") / "w.xlsx", n=6, d=3)


@pytest.fixture(autouse=True)
def _forked(monkeypatch):
    """A workbook this small is read in verify's own process; these tests are of the second one."""
    monkeypatch.setattr(second_process, "FORK_FROM", 0)


def test_a_small_workbook_is_read_without_a_second_process(built, monkeypatch):
    monkeypatch.undo()

    def no_process(*args, **kwargs):
        raise AssertionError("a process was started for a workbook of 6x3")

    monkeypatch.setattr(multiprocessing.context.ForkContext, "Process", no_process)
    report = bnsheet.verify(built)
    assert report.ok, report.to_text()


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


def test_the_reader_lets_go_of_each_sheet_once_its_areas_are_read_and_reads_the_same(built):
    from bnsheet.checking.filled import formula_fault
    from bnsheet.model.graph import load
    from bnsheet.reading.blocks import locate
    from bnsheet.reading.xlsx import XlsxFile

    with XlsxFile(built) as book:
        areas = [area for area in locate(book, load()).values() if area is not None]
        # x's block last as well as first: its sheet must be kept (or read again) for it
        areas.append(areas[0])
        kept = {
            area: second_process.Stored.of(grid, formula_fault(grid)) for area in areas if (grid := book.grid(area))
        }
        assert book._plain  # reading an area keeps its sheet's scan while the file is open
        book.close()
    with XlsxFile(built) as book:
        read = second_process.read(book, areas)
        assert not book._plain and not book._cells  # nothing of any sheet is held any more
    assert set(read) == set(kept)
    for area, stored in read.items():
        assert stored.fault == kept[area].fault, area
        assert (stored.formulas == kept[area].formulas).all() and stored.others == kept[area].others
        assert np.array_equal(stored.numbers, kept[area].numbers, equal_nan=True)
    assert read[areas[0]].fault[0] == "constant" and not read[areas[0]].formulas.any()  # x holds numbers
