"""The "depends on" column of docs/architecture.md, computed from the import graph (grimp, as import-linter).

    python -m tools.depgraph           print each package's project dependencies
    python -m tools.depgraph --write   rewrite the column in docs/architecture.md
    python -m tools.depgraph --check   exit 1 when the document disagrees with the code (run by the tests)

The column lists the project's own packages a package imports (directly), in layer order, followed by the
third-party libraries named in ``THIRD_PARTY`` it imports. The layer order itself is the import-linter contract
in pyproject.toml, which ``make lint`` enforces.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
# Third-party libraries worth naming in the table (the rest is the standard library and small helpers).
THIRD_PARTY = ("django", "polars", "pyarrow", "lxml", "psycopg", "rich", "yaml", "duckdb", "openpyxl", "fpdf")
ROW = re.compile(r"^\| `(?P<name>[a-z_]+)(?P<suffix>/|\.py)` \|(?P<what>.*)\| (?P<deps>[^|]*) \|$")


def dependencies() -> dict[str, list[str]]:
    """Project package (or top-level module) → the project packages and named libraries it imports."""
    graph = grimp.build_graph("mianshen", *THIRD_PARTY, include_external_packages=True)
    top = sorted({m.split(".")[1] for m in graph.modules if m.startswith("mianshen.") and m.count(".") >= 1})
    order = _layer_order(top)
    result: dict[str, list[str]] = {}
    for package in top:
        project: set[str] = set()
        libraries: set[str] = set()
        prefix = f"mianshen.{package}"
        modules = [m for m in graph.modules if m == prefix or m.startswith(prefix + ".")]
        for module in modules:
            for imported in graph.find_modules_directly_imported_by(module):
                if imported.startswith("mianshen."):
                    other = imported.split(".")[1]
                    if other != package:
                        project.add(other)
                elif imported.split(".")[0] in THIRD_PARTY:
                    libraries.add(imported.split(".")[0])
        result[package] = sorted(project, key=order.index) + sorted(libraries)
    return result


def _layer_order(packages: list[str]) -> list[str]:
    """Packages from the top layer down, as the import-linter contract lists them; others last."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    layers = re.search(r"layers = \[(.*?)\]", text, re.S)
    named: list[str] = []
    if layers:
        named = [name for name in re.findall(r"mianshen\.([a-z_]+)", layers.group(1))]
    return named + [p for p in packages if p not in named]


def _cell(deps: list[str]) -> str:
    return ", ".join(deps) if deps else "—"


def rewritten(doc: str, deps: dict[str, list[str]]) -> str:
    lines = []
    for line in doc.splitlines():
        match = ROW.match(line)
        if match and match["name"] in deps:
            name, suffix = match["name"], match["suffix"]
            line = f"| `{name}{suffix}` |{match['what']}| {_cell(deps[name])} |"
        lines.append(line)
    return "\n".join(lines) + ("\n" if doc.endswith("\n") else "")


def main(argv: list[str]) -> int:
    deps = dependencies()
    doc = DOC.read_text(encoding="utf-8")
    if "--write" in argv:
        DOC.write_text(rewritten(doc, deps), encoding="utf-8")
        return 0
    if "--check" in argv:
        if rewritten(doc, deps) != doc:
            print(
                "docs/architecture.md: the 'depends on' column disagrees with the code; run python -m tools.depgraph --write"
            )
            return 1
        return 0
    for package, names in deps.items():
        print(f"{package:12} {_cell(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
