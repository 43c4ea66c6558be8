"""Property and fuzz tests: whatever the inputs or the bytes of the file, bnsheet answers with a
verdict or one clear line, never a traceback."""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bnsheet
from bnsheet import cli

SETTINGS = settings(
    max_examples=12, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip


@st.composite
def layers(draw: st.DrawFn) -> dict[str, object]:
    """Inputs of random shape and magnitude (1e-8 … 1e8), some columns constant, eps down to 1e-12."""
    n = draw(st.integers(2, 6))
    d = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = 10.0 ** draw(st.integers(-8, 8))
    x = rng.normal(draw(st.floats(-3, 3)), 1.0, (n, d)) * scale
    for j in draw(st.sets(st.integers(0, d - 1), max_size=d)):
        x[:, j] = x[0, j]  # a constant column: zero variance, where eps alone keeps 1/sqrt finite
    return {
        "x": x,
        "gamma": rng.uniform(-2, 2, (1, d)),
        "beta": rng.normal(0, 1, (1, d)) * scale,
        "dout": rng.normal(0, 1, (n, d)) * 10.0 ** draw(st.integers(-4, 4)),
        "eps": 10.0 ** draw(st.integers(-12, 0)),
    }


def builds_and_verifies_clean(layer: dict[str, object], engine: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = bnsheet.build(Path(folder) / "w.xlsx", **layer)  # type: ignore[arg-type]
        report = bnsheet.verify(path, engine=engine)
        assert report.ok, report.to_text()


@pytest.mark.apps()  # many layers built and verified, seconds
@SETTINGS
@given(layers())
def test_any_layer_builds_and_verifies_clean(layer):
    builds_and_verifies_clean(layer, "formualizer")


@pytest.mark.apps()  # the formulas engine: seconds a workbook
@settings(SETTINGS, max_examples=4)
@given(layers())
def test_any_layer_verifies_clean_with_the_slow_engine_too(layer):
    builds_and_verifies_clean(layer, "formulas")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, bytes]]:
    """A small workbook's bytes, and its parts."""
    path = bnsheet.build(tmp_path_factory.mktemp("fuzz") / "w.xlsx", n=3, d=2)
    with zipfile.ZipFile(path) as package:
        return path.read_bytes(), {i.filename: package.read(i) for i in package.infolist()}


def verdict(data: bytes) -> tuple[int, str, str]:
    """``bnsheet verify`` of these bytes, run in-process; (status, stdout, stderr)."""
    import contextlib
    import io

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.xlsx"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(["verify", str(path), "--engine", "formualizer"])
            except SystemExit as exit:  # argparse's way out; must not happen here either
                status = int(exit.code or 0)
        assert path.read_bytes() == data, "verify changed the file"
    return status, out.getvalue(), err.getvalue()


def assert_clear_answer(status: int, out: str, err: str) -> None:
    assert status in (0, 1, 2), (status, out, err)
    if status == 2:
        assert err.startswith("bnsheet: ") and err.count("\n") == 1 and "Traceback" not in err, err
    else:
        assert re.search(r"all \d+ nodes match", out) if status == 0 else re.search(r"\w+: \w[\w ]* at ", out), out


@SETTINGS
@given(st.data())
def test_corrupted_bytes_get_a_clear_answer(pristine, data):
    raw = bytearray(pristine[0])
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    assert_clear_answer(*verdict(bytes(raw)))


XML_DAMAGE = st.sampled_from(
    [b"<", b">", b"&", b"&bogus;", b"</c>", b"<c>", b'"', b"\x00", b"\xff", b"]]>", b"<![CDATA[", b"=", b"'", b"!",
     b"#REF!", b"(", b")", b"$", b":", b"1E+999", b"-", b"", b"<f>", b"</f>", b"<v>1</v>", b'r="ZZZ0"']
)  # fmt: skip


@SETTINGS
@given(st.data())
def test_corrupted_xml_gets_a_clear_answer(pristine, data):
    parts = dict(pristine[1])
    name = data.draw(st.sampled_from(sorted(parts)), label="part")
    text = bytearray(parts[name])
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 40)))
        text[start:end] = data.draw(XML_DAMAGE)
    parts[name] = bytes(text)
    with tempfile.TemporaryFile() as stream:
        with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as package:
            for part, content in parts.items():
                package.writestr(part, content)
        stream.seek(0)
        assert_clear_answer(*verdict(stream.read()))
