"""The import layers: docs/architecture.md's "depends on" column is generated from the import graph and must
match the code; the layers contract holds with no exceptions; core imports no app."""

import pytest
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


# --- the layers (issue 10): core is a foundation, the contracts have no exceptions, the round hand-over ------


def _imports_of(graph: object, package: str) -> set[tuple[str, str]]:
    """(importer, imported) for every import from ``package`` into another project package."""
    prefix = f"mianshen.{package}"
    found: set[tuple[str, str]] = set()
    for module in graph.modules:  # type: ignore[attr-defined]
        if module == prefix or module.startswith(prefix + "."):
            for imported in graph.find_modules_directly_imported_by(module):  # type: ignore[attr-defined]
                if imported.startswith("mianshen") and not (
                    imported == prefix or imported.startswith(prefix + ".")
                ):
                    found.add((module, imported))
    return found


@pytest.fixture(scope="module")
def graph() -> object:
    import grimp

    return grimp.build_graph("mianshen", "mianshen_banksim")


def test_core_imports_no_app_of_the_project(graph: object) -> None:
    assert _imports_of(graph, "core") == set()


def test_staff_sits_just_above_core_and_audit(graph: object) -> None:
    below = ("mianshen.core", "mianshen.audit")
    assert {(a, b) for a, b in _imports_of(graph, "staff") if not b.startswith(below)} == set()


def test_screening_does_not_import_cases(graph: object) -> None:
    assert {(a, b) for a, b in _imports_of(graph, "screening") if b.startswith("mianshen.cases")} == set()


def test_payment_selectors_import_no_service_module(graph: object) -> None:
    imported = graph.find_modules_directly_imported_by("mianshen.payments.selectors")  # type: ignore[attr-defined]
    assert {m for m in imported if ".services" in m} == set()


def test_the_product_does_not_import_the_bank_simulator(graph: object) -> None:
    importers = {
        module
        for module in graph.modules  # type: ignore[attr-defined]
        if module.startswith("mianshen.")
        and any(m.startswith("mianshen_banksim") for m in graph.find_modules_directly_imported_by(module))  # type: ignore[attr-defined]
    }
    assert importers == {"mianshen.cli.demo"}  # the demo runs the simulator; nothing else knows it


def test_the_layers_contract_has_no_exceptions_and_holds() -> None:
    import tomllib

    from importlinter.cli import lint_imports

    config = tomllib.loads((depgraph.ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]
    assert [c for c in config["contracts"] if c.get("ignore_imports")] == []
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    assert layers[0] == "mianshen.cli" and layers[-3:] == [
        "mianshen.staff",
        "mianshen.audit",
        "mianshen.core",
    ]
    assert lint_imports(config_filename=str(depgraph.ROOT / "pyproject.toml"), no_cache=True) == 0
