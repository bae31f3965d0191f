"""docs/architecture.md's "depends on" column is generated from the import graph and must match the code."""

from tools import depgraph


def test_dependency_column_matches_the_code() -> None:
    deps = depgraph.dependencies()
    doc = depgraph.DOC.read_text(encoding="utf-8")
    assert depgraph.rewritten(doc, deps) == doc, "run: python -m tools.depgraph --write"


def test_a_new_import_changes_the_column() -> None:
    deps = depgraph.dependencies()
    changed = dict(deps, policy=[*deps["policy"], "payments"])
    doc = depgraph.DOC.read_text(encoding="utf-8")
    assert "payments" in depgraph.rewritten(doc, changed).split("| `policy/` |")[1].splitlines()[0]
