"""The report's JSON form is the one docs/verify-report.schema.json documents, for real reports of
passing, failing, mapped and several-engine verifies (SPEC §12, §18)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from handmade import block_map, handmade
from test_cli import ROOT, run_here

import bnsheet
from conftest import tamper

SCHEMA = json.loads((ROOT / "docs" / "verify-report.schema.json").read_text(encoding="utf-8"))


def check(document: object) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


def test_the_schema_refuses_what_it_should():
    # a check that can fail: a report with a status no one defined, or a key lost, is refused
    document = {"report_format": 1, "bnsheet_version": "0.1.0", "path": "w.xlsx", "engine": "formualizer",
                "ok": True, "trials": 3, "seed": 1, "nodes": [], "causes": [], "notes": []}  # fmt: skip
    check(document)
    for broken in ({**document, "ok": "yes"}, {k: v for k, v in document.items() if k != "seed"},
                   {**document, "nodes": [{"node": "xmu", "status": "fine"}]}):  # fmt: skip
        with pytest.raises(jsonschema.ValidationError):
            check(broken)


def test_a_passing_and_a_failing_report_follow_the_schema(built):
    result = run_here("verify", str(built), "--json", "--seed", "4")
    assert result.returncode == 0
    passing = json.loads(result.stdout)
    check(passing)
    assert passing["ok"] is True and passing["seed"] == 4 and len(passing["nodes"]) == 62
    assert passing["bnsheet_version"] == bnsheet.__version__ and passing["mapped"] is False

    def change(book):
        book["xmu"]["D8"] = "='x'!D8"
        book["sq"]["C7"] = 5.0

    result = run_here("verify", str(tamper(built, change)), "--json", "--seed", "4")
    assert result.returncode == 1
    failing = json.loads(result.stdout)
    check(failing)
    rows = {row["node"]: row for row in failing["nodes"]}
    assert rows["xmu"]["first_bad_cell"] == "'xmu'!D8" and isinstance(rows["xmu"]["expected"], float)
    assert rows["sq"]["status"] != "ok" and failing["causes"]


def test_a_mapped_report_follows_the_schema(tmp_path):
    report = bnsheet.verify(handmade(tmp_path / "hand.xlsx"), blocks=block_map(), seed=2)
    document = json.loads(report.to_json())
    check(document)
    assert document["mapped"] is True and document["ok"] is True
    assert {row["status"] for row in document["nodes"]} == {"ok", "not mapped"}


@pytest.mark.apps("soffice", "ssconvert")
@pytest.mark.apps()  # every installed engine, the applications too
def test_a_report_of_every_engine_follows_the_schema(built):
    document = json.loads(bnsheet.verify(built, engine="all", seed=2, trials=0).to_json())
    check(document)
    assert document["agreement"] and all(f"status_{name}" in document["nodes"][0] for name in ("formualizer",))
