"""Find the code that writes given fields of given models, by reading the source (AST): the guard behind "one
function moves a case / an instruction / a bank file".

A module is concerned when it imports one of the models from the app's ``models`` module (absolute or relative).
In a concerned module, a write is any of:

- an assignment to ``<anything>.<field>`` (also in a tuple, augmented or annotated), ``setattr(x, "<field>", …)``;
- ``.update(<field>=…)`` or ``.update(**…)`` (keys unknown), ``.bulk_update(objs, [… "<field>" …])`` or with fields
  not written out, ``.save(update_fields=[… "<field>" …])``, ``.bulk_create(…, update_fields=[… "<field>" …])``;
- ``update_rows(<Model>, [columns], …)`` (``core.bulkdb``: plain rows) naming a guarded field, or with columns
  not written out;

and anywhere, concerned or not, SQL text that updates the model's table (``UPDATE <table>``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Write:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _strings(node: ast.AST | None) -> list[str] | None:
    """The string constants of a literal list/tuple/set (``None`` when it is not written out)."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        out = []
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                return None
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                out.append(elt.value)
        return out
    return None


def _keyword(call: ast.Call, name: str, position: int | None = None) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _targets(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.Tuple | ast.List):
        for elt in node.elts:
            yield from _targets(elt)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)
    else:
        yield node


def writes_in_source(
    source: str, module: str, *, app_models: str, models: set[str], fields: set[str], tables: set[str],
    is_package: bool = False,
) -> list[Write]:  # fmt: skip
    """The writes of ``fields`` of ``models`` (defined in the module ``app_models``) in one module's source."""
    tree = ast.parse(source)
    concerned = any(
        isinstance(node, ast.ImportFrom)
        and _absolute(node, module, is_package) == app_models
        and any(alias.name in models for alias in node.names)
        for node in ast.walk(tree)
    )
    sql = re.compile(r"\bUPDATE\s+[\"`]?(" + "|".join(map(re.escape, sorted(tables))) + r")\b", re.IGNORECASE)
    found: list[Write] = []

    def hit(node: ast.AST, what: str) -> None:
        found.append(Write(module, getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and sql.search(node.value):
            hit(node, f"SQL updating {sql.search(node.value).group(1)}")  # type: ignore[union-attr]
        if not concerned:
            continue
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for t in _targets(target):
                    if isinstance(t, ast.Attribute) and t.attr in fields:
                        hit(t, f"{ast.unparse(t)} = …")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        receiver = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
        if name == "setattr" and len(node.args) >= 2:
            attr = node.args[1]
            if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)) or attr.value in fields:
                hit(node, f"setattr({ast.unparse(node.args[0])}, {ast.unparse(attr)}, …)")
        elif name == "update" and isinstance(func, ast.Attribute):
            for kw in node.keywords:
                if kw.arg is None:
                    hit(node, f"{receiver}.update(**…)")
                elif kw.arg in fields:
                    hit(node, f"{receiver}.update({kw.arg}=…)")
        elif name in ("bulk_update", "save", "bulk_create"):
            listed = _keyword(node, "fields", 1) if name == "bulk_update" else _keyword(node, "update_fields")
            if listed is None:
                continue
            strings = _strings(listed)
            if strings is None or fields & set(strings):
                hit(node, f"{receiver}.{name}({'fields' if name == 'bulk_update' else 'update_fields'}=…)")
        elif name == "update_rows" and node.args:
            first = node.args[0]
            columns = _strings(node.args[1]) if len(node.args) > 1 else None
            if (
                isinstance(first, ast.Name)
                and first.id in models
                and (columns is None or fields & set(columns))
            ):
                hit(node, f"update_rows({first.id}, …)")
    return found


def writes(
    *, app_models: str, models: set[str], fields: set[str], tables: set[str], root: Path = SRC
) -> list[Write]:
    """Every write of ``fields`` of ``models`` under ``root`` (migrations excluded)."""
    found: list[Write] = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        found += writes_in_source(
            path.read_text(encoding="utf-8"), module_name(path, root), app_models=app_models, models=models,
            fields=fields, tables=tables, is_package=path.name == "__init__.py",
        )  # fmt: skip
    return found
