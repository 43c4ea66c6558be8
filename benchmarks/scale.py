"""How bnsheet scales, beside the tools a user would otherwise reach for: one run, one machine.

For the staged workbook at several sizes, each task runs as its own process group and is timed
from start to exit; its peak memory is what all its processes hold together at the worst moment
(bnsheet verify reads the file in a second process, LibreOffice runs soffice.bin under soffice),
sampled every 50 ms, and never less than the largest single process's peak that wait4 reports:

- ``bnsheet build``, and a bare openpyxl write-only dump of the same formulas and inputs;
- ``bnsheet verify`` with each installed engine (end to end: read, recalculate, reference, compare,
  the default hidden trials included), and with formualizer once more at ``--trials 0``;
- formualizer alone on the file as written (load + evaluate, no bnsheet around it);
- LibreOffice headless recalculation (``soffice --convert-to xlsx`` with a private profile that
  says "always recalculate on load", warmed by one run beforehand) and ``ssconvert --recalc``;
- at the largest size, verify and LibreOffice once more with the machine loaded by two busy
  processes that the benchmark starts beside them (and stops, whatever happens; each also stops
  by itself when the benchmark is gone);
- ``bnsheet build`` and ``bnsheet verify`` once at 2048×256 (8.4 M formula cells), the largest
  size bnsheet builds (``--no-large`` skips it).

The tasks the targets compare (build, the dump, verify with formualizer, formualizer alone and both
applications' recalculation) run ``--rounds`` times (3), taking turns, and the median counts; the
other verifies run once. It prints a table and writes ``results.csv`` and ``results.md``. Ratios
are what to read: build against the openpyxl dump, verify against LibreOffice's recalculation of
the same file.

    python benchmarks/scale.py            # the four sizes, about half an hour here
    python benchmarks/scale.py --smoke    # the smallest size only (CI), into output/benchmark-smoke
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

SIZES = [(32, 16), (128, 64), (256, 128), (512, 128)]
LARGE = (2048, 256)
BUSY = 2  # busy processes beside the loaded runs
LOADED = ", machine loaded"
# A busy process: spins, and stops once its parent (the benchmark) is gone, even if it was killed.
_SPIN = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    sum(range(100_000))\n"
# The targets of issue 18: (task, size, the task it is compared with, the largest ratio allowed).
TARGETS = [
    ("bnsheet verify --engine formualizer", "512x128", "LibreOffice headless recalc + save", 0.25),
    (
        "bnsheet verify --engine formualizer, machine loaded",
        "512x128",
        "LibreOffice headless recalc + save, machine loaded",
        0.35,
    ),
    ("bnsheet build", "512x128", "openpyxl write-only dump", 0.40),
]
PEAK_TARGETS = [
    ("bnsheet verify --engine formualizer", "512x128", 600.0),
    ("bnsheet verify --engine formualizer", "2048x256", 8192.0),
]
SLOW_ENGINE_MAX_CELLS = 20_000  # formulas (pure Python) takes minutes beyond this many formula cells
TIMEOUT = 900.0
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
SAMPLE_EVERY = 0.05  # seconds between two looks at a task's memory
HERE = Path(__file__).resolve().parent


@dataclass
class Run:
    size: str
    formula_cells: int
    task: str
    seconds: float | None  # None: not run (the note says why)
    peak_mb: float | None
    note: str = ""
    ratio: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the smallest size only, results into output/")
    parser.add_argument("--sizes", help="NxD,NxD,... instead of the default four")
    parser.add_argument("--out", type=Path, help="folder for results.csv and results.md")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each compared task; the median counts")
    parser.add_argument("--no-large", action="store_true", help=f"skip {LARGE[0]}x{LARGE[1]}")
    args = parser.parse_args(argv)
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")] if args.sizes else SIZES
    if args.smoke:
        sizes = sizes[:1]
    out = args.out or (Path("output") / "benchmark-smoke" if args.smoke else HERE)
    out.mkdir(parents=True, exist_ok=True)
    started = _load()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bnsheet-bench-") as scratch:
        work = Path(scratch)
        profile = _warm_libreoffice(work)
        rounds = 1 if args.smoke else args.rounds
        for n, d in sizes:
            runs += _measure(n, d, work, profile, rounds)
            _print([r for r in runs if r.size == f"{n}x{d}"])
        n, d = sizes[-1]
        runs += _loaded(n, d, work, profile, rounds)
        _print(runs[-2:])
        if not (args.smoke or args.no_large):
            runs += _large(*LARGE, work)
            _print(runs[-2:])
    machine = _machine(started, _load())
    _ratios(runs)
    _write(runs, machine, out)
    print(f"\n{machine}\nwrote {out / 'results.csv'} and {out / 'results.md'}")
    failed = [r for r in runs if r.note.startswith("failed")]
    return 1 if failed else 0


def _measure(n: int, d: int, work: Path, profile: Path | None, rounds: int) -> list[Run]:
    """Every task at one size. The tasks the targets compare run ``rounds`` times, taking turns
    (so a machine that slows for a minute slows them alike), and the median run counts; the
    verifies with the applications and the pure-Python engine, far from any target, run once."""
    from bnsheet import engines

    size = f"{n}x{d}"
    book = work / f"bn-{size}.xlsx"
    installed = engines.installed()
    gnumeric_copy = work / f"gnumeric-{size}.xlsx"
    compared: dict[str, list[str] | None] = {
        "bnsheet build": ["bnsheet", "build", "-o", str(book), "--n", str(n), "--d", str(d), "--quiet"],
        "openpyxl write-only dump": [sys.executable, __file__, "--openpyxl-dump", str(n), str(d),
                                     str(work / f"openpyxl-{size}.xlsx")],
        "bnsheet verify --engine formualizer": ["bnsheet", "verify", str(book), "--quiet"]
        if "formualizer" in installed else None,
        # the same without hidden trials: the difference is what the trials cost
        "bnsheet verify --engine formualizer --trials 0": ["bnsheet", "verify", str(book), "--quiet", "--trials", "0"]
        if "formualizer" in installed else None,
        "formualizer alone, file as written": [sys.executable, __file__, "--formualizer-alone", str(book)],
        "LibreOffice headless recalc + save": _soffice(profile, book, work / "lo-out") if profile else None,
        "Gnumeric ssconvert --recalc": ["ssconvert", "--recalc", str(book), str(gnumeric_copy)]
        if shutil.which("ssconvert") else None,
    }  # fmt: skip
    timed: dict[str, list[Run]] = {task: [] for task in compared}
    for _ in range(rounds):
        for task, command in compared.items():
            if command is not None:
                timed[task].append(_run(size, 0, task, command))
    cells = _formula_cells(book) if book.exists() else 0
    runs = {task: _median(task, timed[task], size, cells) for task in compared}
    for engine in installed:
        task = f"bnsheet verify --engine {engine}"
        if engine == "formualizer":
            continue  # compared above
        if engine == "formulas" and cells > SLOW_ENGINE_MAX_CELLS:
            runs[task] = Run(size, cells, task, None, None, "skipped: takes minutes at this size")
        else:
            runs[task] = _run(size, cells, task, ["bnsheet", "verify", str(book), "--engine", engine, "--quiet"])
    verifies = [task for task in runs if task.startswith("bnsheet verify")]
    order = ["bnsheet build", "openpyxl write-only dump", *verifies]
    return [runs[task] for task in order] + [run for task, run in runs.items() if task not in order]


def _loaded(n: int, d: int, work: Path, profile: Path | None, rounds: int) -> list[Run]:
    """Verify and LibreOffice on the workbook _measure built, taking turns, with BUSY busy
    processes beside them: what a shared machine does to both."""
    size = f"{n}x{d}"
    book = work / f"bn-{size}.xlsx"
    cells = _formula_cells(book) if book.exists() else 0
    compared: dict[str, list[str] | None] = {
        "bnsheet verify --engine formualizer, machine loaded": ["bnsheet", "verify", str(book), "--quiet"],
        "LibreOffice headless recalc + save, machine loaded": _soffice(profile, book, work / "lo-out")
        if profile else None,
    }  # fmt: skip
    timed: dict[str, list[Run]] = {task: [] for task in compared}
    busy = [subprocess.Popen([sys.executable, "-c", _SPIN], start_new_session=True) for _ in range(BUSY)]
    try:
        time.sleep(1.0)  # the load is there before the first run starts
        for _ in range(rounds):
            for task, command in compared.items():
                if command is not None:
                    timed[task].append(_run(size, 0, task, command))
    finally:
        for process in busy:
            process.kill()
            process.wait()
    return [_median(task, timed[task], size, cells) for task in compared]


def _large(n: int, d: int, work: Path) -> list[Run]:
    """The largest size bnsheet builds: build and verify once each."""
    size = f"{n}x{d}"
    book = work / f"bn-{size}.xlsx"
    build = _run(
        size, 0, "bnsheet build", ["bnsheet", "build", "-o", str(book), "--n", str(n), "--d", str(d), "--quiet"]
    )
    cells = _formula_cells(book) if book.exists() else 0
    build.formula_cells = cells
    verify = _run(size, cells, "bnsheet verify --engine formualizer", ["bnsheet", "verify", str(book), "--quiet"])
    book.unlink(missing_ok=True)
    return [build, verify]


def _median(task: str, runs: list[Run], size: str, cells: int) -> Run:
    """The run of median time among ``runs`` (the first failure if any failed), with the largest
    peak memory of them all; none at all when the task's program is not installed."""
    if not runs:
        program = {"LibreOffice": "soffice", "Gnumeric": "ssconvert", "bnsheet verify": "formualizer"}
        name = next((p for start, p in program.items() if task.startswith(start)), task)
        return Run(size, cells, task, None, None, f"{name} not installed")
    failed = [r for r in runs if r.seconds is None]
    middle = failed[0] if failed else sorted(runs, key=lambda r: r.seconds or 0.0)[len(runs) // 2]
    peak = max((r.peak_mb for r in runs if r.peak_mb is not None), default=None)
    note = "; ".join(filter(None, [f"median of {len(runs)}" if len(runs) > 1 and not failed else "", middle.note]))
    return Run(size, cells, task, middle.seconds, peak, note)


def _run(size: str, cells: int, task: str, command: list[str]) -> Run:
    """Time ``command`` from start to exit, and find its peak resident memory (see above)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = start + TIMEOUT
    together, sampled = 0, 0.0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - sampled >= SAMPLE_EVERY:
            together, sampled = max(together, _session_rss(process.pid)), time.perf_counter()
        if time.perf_counter() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            return Run(size, cells, task, None, None, f"failed: no answer in {TIMEOUT:.0f} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
    peak = max(usage.ru_maxrss, together) / 1024
    if process.returncode == 1 and task.startswith("bnsheet verify"):  # it ran to the end; a node differs
        return Run(size, cells, task, seconds, peak, "exit 1: some node did not match")
    if process.returncode != 0:
        last = error.splitlines()[-1] if error else ""
        return Run(size, cells, task, None, None, f"failed: exit {process.returncode} {last}"[:120])
    return Run(size, cells, task, seconds, peak)


def _session_rss(session: int) -> int:
    """Resident memory in KB of every process in ``session`` together, from /proc (0 elsewhere).
    One small read per process, so that sampling takes little of the machine being measured."""
    total = 0
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == session:
            total += int(fields[21]) * PAGE_KB  # rss, in pages
    return total


def _soffice(profile: Path, book: Path, outdir: Path) -> list[str]:
    """LibreOffice's command line as bnsheet's libreoffice engine runs it, with the profile at ``profile``."""
    from bnsheet.engines import external, libreoffice

    return libreoffice._command(external.Workspace(profile.parent, book), outdir, [book])


def _warm_libreoffice(work: Path) -> Path | None:
    """A private profile that always recalculates on load (bnsheet's libreoffice engine writes it),
    started once on a small workbook, so the measured runs do not pay for LibreOffice's first start."""
    from bnsheet.engines import external, libreoffice

    if not libreoffice.installed():
        return None
    tiny = work / "warm.xlsx"
    subprocess.run(["bnsheet", "build", "-o", str(tiny), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    libreoffice._private_profile(external.Workspace(work, tiny))
    subprocess.run(_soffice(work / "profile", tiny, work / "lo-warm"), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=TIMEOUT)  # fmt: skip
    return work / "profile"


def _formula_cells(book: Path) -> int:
    """The formula cells bnsheet wrote (one <f> element each)."""
    with zipfile.ZipFile(book) as package:
        parts = [name for name in package.namelist() if name.startswith("xl/worksheets/sheet")]
        return sum(package.read(name).count(b"<f>") for name in parts)


def _ratios(runs: list[Run]) -> None:
    """Build against the openpyxl dump; everything on the verify side against LibreOffice, under
    the same load."""
    by = {(r.size, r.task): r.seconds for r in runs}
    office = "LibreOffice headless recalc + save"
    for r in runs:
        loaded = r.task.endswith(LOADED)
        base = by.get((r.size, "openpyxl write-only dump" if r.task == "bnsheet build" else
                       office + (LOADED if loaded else "")))  # fmt: skip
        if r.task in ("openpyxl write-only dump", office, office + LOADED) or not (r.seconds and base):
            continue
        r.ratio = f"{r.seconds / base:.2f} x {'openpyxl' if r.task == 'bnsheet build' else 'LibreOffice'}"
        r.ratio += " (loaded)" if loaded else ""


def _print(runs: list[Run]) -> None:
    for r in runs:
        seconds = f"{r.seconds:8.2f}" if r.seconds is not None else "       —"
        peak = f"{r.peak_mb:7.0f}" if r.peak_mb is not None else "      —"
        print(f"{r.size:>8} {r.formula_cells:>8} {r.task:<48} {seconds} s {peak} MB  {r.note}", flush=True)


def _write(runs: list[Run], machine: str, out: Path) -> None:
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["size", "formula_cells", "task", "seconds", "peak_mb", "us_per_cell", "ratio", "note"])
        for r in runs:
            per_cell = f"{r.seconds / r.formula_cells * 1e6:.2f}" if r.seconds else ""
            writer.writerow([r.size, r.formula_cells, r.task, f"{r.seconds:.3f}" if r.seconds else "",
                             f"{r.peak_mb:.0f}" if r.peak_mb else "", per_cell, r.ratio, r.note])  # fmt: skip
    lines = [
        "| size | formula cells | task | seconds | µs per cell | peak MB | ratio |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.seconds is None:
            lines.append(f"| {r.size} | {r.formula_cells:,} | {r.task} | — | — | — | {r.note} |")
            continue
        said = "; ".join(filter(None, [r.ratio, r.note]))
        lines.append(
            f"| {r.size} | {r.formula_cells:,} | {r.task} | {r.seconds:.2f} | "
            f"{r.seconds / r.formula_cells * 1e6:.1f} | {r.peak_mb:.0f} | {said} |"
        )
    lines += ["", *_growth(runs), "", *_targets(runs)]
    (out / "results.md").write_text(f"{machine}\n\n" + "\n".join(lines) + "\n", encoding="utf-8")


def _targets(runs: list[Run]) -> list[str]:
    """Each target of issue 18 with what this run measured."""
    by = {(r.size, r.task): r for r in runs}
    lines = ["Targets (issue 18), measured in this run:", "", "| target | measured | met |", "|---|---:|---|"]
    for task, size, base, most in TARGETS:
        run, against = by.get((size, task)), by.get((size, base))
        if run is None or against is None or not (run.seconds and against.seconds):
            lines.append(f"| {task} at {size} ≤ {most:.2f}× {base} | — | not measured |")
            continue
        ratio = run.seconds / against.seconds
        lines.append(f"| {task} at {size} ≤ {most:.2f}× {base} | {ratio:.2f}× | {'yes' if ratio <= most else 'no'} |")
    for task, size, most_mb in PEAK_TARGETS:
        run = by.get((size, task))
        if run is None or run.peak_mb is None:
            lines.append(f"| {task} at {size}: peak ≤ {most_mb:.0f} MB | — | not measured |")
            continue
        passed = run.note != "exit 1: some node did not match"
        met = "yes" if run.peak_mb <= most_mb and passed else "no"
        lines.append(f"| {task} at {size}: peak ≤ {most_mb:.0f} MB{', passes' if size == '2048x256' else ''} "
                     f"| {run.peak_mb:.0f} MB{'' if passed else ' (failed)'} | {met} |")  # fmt: skip
    return lines


def _growth(runs: list[Run]) -> list[str]:
    """Seconds per million more formula cells from each size to the next: flat when time grows
    linearly (the first size also pays for starting the process)."""
    sizes = list(dict.fromkeys(r.size for r in runs))
    steps = list(zip(sizes[:-1], sizes[1:], strict=True))
    if not steps:
        return []
    lines = ["| task | " + " | ".join(f"{a} → {b}" for a, b in steps) + " |", "|---|" + "---:|" * len(steps)]
    for task in dict.fromkeys(r.task for r in runs):
        seconds = {r.size: (r.formula_cells, r.seconds) for r in runs if r.task == task and r.seconds}
        cells = [_slope(seconds.get(a), seconds.get(b)) for a, b in steps]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return ["Growth, in seconds per million more formula cells:", "", *lines]


def _slope(first: tuple[int, float] | None, second: tuple[int, float] | None) -> str:
    if first is None or second is None or second[0] == first[0]:
        return "—"
    return f"{(second[1] - first[1]) / (second[0] - first[0]) * 1e6:.1f}"


def _machine(before: str, after: str) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    memory = next((int(line.split()[1]) / 1024**2 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0.0)  # fmt: skip
    tools = [f"Python {platform.python_version()}", f"bnsheet {version('bnsheet')}",
             f"formualizer {version('formualizer')}", f"openpyxl {version('openpyxl')}"]  # fmt: skip
    for program, flag in (("soffice", "--version"), ("ssconvert", "--version")):
        if shutil.which(program):
            text = subprocess.run([program, flag], capture_output=True, text=True, timeout=120).stdout
            tools.append(" ".join(text.split()[:3]))
    return (
        f"Machine: {os.cpu_count()} cores, {cpu}, {memory:.0f} GB RAM, {platform.system()} {platform.release()}; "
        f"load average {before} at the start, {after} at the end. {'; '.join(tools)}."
    )


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _openpyxl_dump(n: int, d: int, path: Path) -> None:
    """The baseline a user would write by hand: the same inputs and formulas, openpyxl write-only,
    no notes, no styles."""
    import openpyxl
    from openpyxl.workbook.defined_name import DefinedName

    from bnsheet.a1 import col_letter
    from bnsheet.layout import BLOCK_LEFT, BLOCK_TOP, Layout, defined_name
    from bnsheet.model import inputs
    from bnsheet.model.graph import load
    from bnsheet.writing.compile import cell_pattern

    graph, layout, values = load(), Layout(n, d), inputs.make(n=n, d=d)
    arrays = values.arrays()
    book = openpyxl.Workbook(write_only=True)
    params = book.create_sheet("params")
    for _ in range(BLOCK_TOP - 1):
        params.append([])
    for p in graph.params:
        params.append([None, p.name, "=" + p.formula if p.formula else values.eps])
    letters = [col_letter(BLOCK_LEFT + j) for j in range(d)]
    for block in graph.blocks:
        sheet = book.create_sheet(block.name)
        for _ in range(BLOCK_TOP - 1):
            sheet.append([])
        pattern = None if block.is_input else cell_pattern(block, graph, layout)
        for i in range(layout.rows(block)):
            row = BLOCK_TOP + i
            if pattern is None:
                sheet.append([None, None, *(float(v) for v in arrays[block.name][i])])
            else:
                sheet.append([None, None, *(pattern.format(c=c, r=row) for c in letters)])
    for block in graph.blocks:
        name = defined_name(block.name)
        book.defined_names[name] = DefinedName(name, attr_text=layout.area(block).absolute())
    for p in graph.params:
        name = defined_name(p.name)
        book.defined_names[name] = DefinedName(name, attr_text=layout.param_area(graph.params, p.name).absolute())
    book.save(path)


def _formualizer_alone(path: Path) -> None:
    import formualizer

    formualizer.load_workbook(str(path)).evaluate_all()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--openpyxl-dump"]:
        _openpyxl_dump(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1:2] == ["--formualizer-alone"]:
        _formualizer_alone(Path(sys.argv[2]))
    else:
        sys.exit(main())
