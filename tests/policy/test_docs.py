"""docs/policy.md stays true: its parameter tables are exactly what the parameter files resolve to.

After a deliberate change to a parameter file, run with MIANSHEN_UPDATE_DOCS=1 to rewrite the tables between the
markers, then read the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mianshen.policy.parameters import family_names, load_family

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
START, END = "<!-- parameter tables: generated from params/*.yaml -->", "<!-- end of parameter tables -->"


def _value(text: object) -> str:
    if isinstance(text, list):
        return ", ".join(text)
    if isinstance(text, dict):
        return ", ".join(f"{k} {v}" for k, v in text.items())
    return str(text)


def tables() -> str:
    out = []
    for name in family_names():
        family = load_family(name)
        out.append(f"### Family `{name}`: {family.title}\n")
        for policy in family.policies.values():
            out.append(
                f"- `{policy.id}`: payment year {policy.payment_year}, data year {policy.data_year}; {policy.source}"
            )
        out.append("\n| parameter | value | from | source / assumption |\n|---|---|---|---|")
        for pname, series in family.parameters.items():
            for v in series:
                until = f" … {v.end}" if v.end else ""
                basis = v.basis.replace("|", "\\|")
                out.append(f"| `{pname}` | {_value(v.text)} | {v.start}{until} | {basis} |")
        out.append("")
    return "\n".join(out)


def test_parameter_tables_match_the_files() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = f"{START}\n{tables()}\n{END}"
    if os.environ.get("MIANSHEN_UPDATE_DOCS") == "1":
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        DOC.write_text(text, encoding="utf-8")
    assert block in text, "docs/policy.md parameter tables are stale (MIANSHEN_UPDATE_DOCS=1 rewrites them)"
