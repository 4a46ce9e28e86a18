"""How long a command takes to start, against the libraries it cannot do without.

Every command pays for the interpreter and for click, PyYAML and pydantic; the floor
is a fresh process that imports just those (``python -c "import click, yaml,
pydantic"``). Each command line is timed as a fresh process too (``python -m
okr_sync ...``, which is what the ``okr-sync`` script runs): ``--help``, ``plan
--help`` and ``validate`` on the quickstart config. The runs are interleaved
(floor, then each command, round after round) so a busy machine slows all of them
alike, and each figure is the median of ``--repeats`` rounds (default 15).
``--quick``: 3 rounds (tests/test_benchmarks.py runs it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    from figures import figure
except ImportError:  # run through runpy from the repository root
    from benchmarks.figures import figure

QUICKSTART = ROOT / "examples" / "quickstart" / "okr-sync.yaml"
FLOOR = ("floor", [sys.executable, "-c", "import click, yaml, pydantic"])
#: Not a floor, a reference: what any command that validates with pydantic pays before
#: its own first line (``import pydantic`` alone loads almost nothing until a model is
#: defined; building the first one loads the schema machinery and pydantic's plugin
#: lookup, which reads every installed package's entry points).
ONE_MODEL = (
    "one_model",
    [sys.executable, "-c",
     "import click, yaml\nfrom pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM(x=1)"],
)  # fmt: skip
COMMANDS = [
    ("startup.help", "okr-sync --help", ["--help"]),
    ("startup.plan_help", "okr-sync plan --help", ["plan", "--help"]),
    (
        "startup.validate",
        "okr-sync validate (quickstart)",
        ["validate", "--config", str(QUICKSTART)],
    ),
]


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("OKR_SYNC_CONFIG", None)
    # An installed package has its bytecode compiled; without it every run would time the
    # compiler too. The warm-up round writes it (__pycache__, ignored by git).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    lines = [FLOOR, ONE_MODEL] + [
        (key, [sys.executable, "-m", "okr_sync", *cmd]) for key, _, cmd in COMMANDS
    ]
    for _, line in lines:  # warm the file cache and the bytecode of every module once
        _run(line, env)
    times: dict[str, list[float]] = {key: [] for key, _ in lines}
    for _ in range(repeats):
        for key, line in lines:
            times[key].append(_run(line, env))
    floor = statistics.median(times["floor"]) * 1000
    one_model = statistics.median(times["one_model"]) * 1000
    print(f"fresh processes, median of {repeats} rounds (python {sys.version.split()[0]})")
    print(f"reference: click + yaml + one pydantic model defined and validated: {one_model:.1f} ms "
          f"({one_model / floor:.2f}× the floor)")  # fmt: skip
    for key, what, _ in COMMANDS:
        measured = statistics.median(times[key]) * 1000
        figure(key, f"{what}, wall time", round(measured, 1), round(floor, 1), unit="ms",
               floor_means="python -c 'import click, yaml, pydantic'", target="≤ 1.30×")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
