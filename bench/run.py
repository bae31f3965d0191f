"""Run the benchmarks of bench/ (``make bench`` runs them all). See bench/README.md.

    .venv/bin/python bench/run.py                      # all: screen, generate_validate, import_pg
    .venv/bin/python bench/run.py screen --record      # one (or several) of them; results appended to RESULTS.md
    .venv/bin/python bench/run.py profile              # mianshen screen's phases on 1M units
    .venv/bin/python bench/run.py --quick              # small sizes: a smoke test of the benchmarks themselves

Each benchmark runs as its own process with its default arguments (``--quick`` shrinks them); the output is the
markdown table each one prints, and with ``--record`` each appends it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable

BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    # name: (default arguments, --quick arguments)
    "screen": (["screen.py"], ["screen.py", "--sizes", "20k,100k", "--runs", "1"]),
    "generate_validate": (["generate_validate.py"], ["generate_validate.py", "--units", "50k"]),
    "import_pg": (["import_pg.py"], ["import_pg.py", "--units", "20k"]),
    "profile": (["screen.py", "--profile", "1M"], ["screen.py", "--profile", "100k"]),
}
ALL = ("screen", "generate_validate", "import_pg")
ALIASES = {"generate": "generate_validate", "validate": "generate_validate", "import": "import_pg"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: {', '.join(ALL)})",
    )
    parser.add_argument("--record", action="store_true", help="append each result table to bench/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="small sizes (checks the benchmarks run)")
    args = parser.parse_args(argv)
    names = [ALIASES.get(n, n) for n in args.names] or list(ALL)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    failed = []
    for name in names:
        default, quick = BENCHMARKS[name]
        script, *rest = quick if args.quick else default
        command = [PYTHON, str(BENCH / script), *rest]
        if args.record:
            command.append("--record")
        print(f"== {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
