"""The seam for derived attributes (auditor/rules/derive.py): the derived modules use only
public names of it, nothing registers itself on import, and what is kept per model is
kept by the model (`Model.memo`)."""

from __future__ import annotations

import ast
import dataclasses
import pkgutil
from pathlib import Path
from typing import Any

import pytest

from auditor.model.types import Model, SourceRef, Vpc
from auditor.rules import derived as package
from auditor.rules.derive import Derived, DerivedAttribute, derived, ec2, registry
from auditor.rules.derived import DERIVED, MODULES

RULES = Path(package.__file__).resolve().parent.parent


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from auditor... import name` and `import auditor...` in a file."""
    out: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("auditor"):
            out += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names if a.name.startswith("auditor")]
    return out


DERIVED_FILES = sorted((RULES / "derived").glob("*.py"))


@pytest.mark.parametrize("path", DERIVED_FILES, ids=lambda p: p.name)
def test_derived_modules_import_only_public_names_and_never_the_attributes(path: Path) -> None:
    for module, name in _imports(path):
        assert module != "auditor.rules.attributes" and name != "attributes", f"{path.name} imports {module}"
        assert not name.startswith("_"), f"{path.name} imports the private {module}.{name}"
        # Of rules/, only the seam and the package itself.
        if module.startswith("auditor.rules"):
            assert module in ("auditor.rules.derive", "auditor.rules.derived"), f"{path.name} imports {module}"


def test_the_seam_imports_only_the_model() -> None:
    found = {module for module, _ in _imports(RULES / "derive.py")}
    assert found == {"auditor.model.types"}


def test_every_module_of_the_package_is_in_the_registry() -> None:
    names = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert names == {m.__name__.rsplit(".", 1)[1] for m in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_every_declared_attribute_is_listed_once(module: Any) -> None:
    declared = [v for v in vars(module).values() if isinstance(v, DerivedAttribute)]
    listed = module.ATTRIBUTES
    assert len(set(map(id, listed))) == len(listed)
    assert {id(a) for a in declared} == {id(a) for a in listed}, "declared but not listed in ATTRIBUTES (or not here)"
    assert all(DERIVED[(a.resource_type, a.name)] is a for a in listed)


def test_the_registry_is_every_list_in_order_and_read_only() -> None:
    assert list(DERIVED.values()) == [a for m in MODULES for a in m.ATTRIBUTES]
    with pytest.raises(TypeError):
        DERIVED[("vpc", "x")] = DERIVED[("vpc", "subnet_ids")]  # type: ignore[index]


def _declare(name: str) -> DerivedAttribute:
    @derived("vpc", name, requires=ec2("DescribeVpcs"), doc="A test attribute.")
    def attribute(model: Model, vpc: Vpc) -> Derived[str]:
        return Derived(vpc.id)
    return attribute


def test_a_declared_attribute_is_a_value_and_callable_as_its_function() -> None:
    attribute = _declare("the_id")
    assert (attribute.resource_type, attribute.name, attribute.requires) == ("vpc", "the_id", (("ec2", "DescribeVpcs"),))
    vpc = Vpc(id="vpc-1", account="1", region="r", source=SourceRef("calls/x.json", "/pages/0"))
    assert attribute(Model(), vpc) == Derived("vpc-1")


def test_the_registry_refuses_a_name_declared_twice() -> None:
    assert list(registry([_declare("a")], [_declare("b")])) == [("vpc", "a"), ("vpc", "b")]
    with pytest.raises(ValueError, match="vpc.a is declared twice"):
        registry([_declare("a")], [_declare("a")])


# -- Model.memo ------------------------------------------------------------------------

def test_memo_makes_once_per_model_and_key() -> None:
    made: list[str] = []

    def make(what: str) -> Any:
        def run() -> list[str]:
            made.append(what)
            return [what]
        return run

    first, second = Model(), Model()
    assert first == second
    kept = first.memo("k", make("first"))
    assert first.memo("k", make("again")) is kept and kept == ["first"]
    assert second.memo("k", make("second")) == ["second"]        # never shared, even by equal models
    assert first.memo("other", make("other")) == ["other"]
    assert made == ["first", "second", "other"]


def test_the_cache_is_not_part_of_the_models_value() -> None:
    kept = Model()
    kept.memo("k", lambda: 1)
    assert kept == Model() and repr(kept) == repr(Model())
    assert "_memo" not in {f.name for f in dataclasses.fields(Model) if f.init}
    assert dataclasses.replace(kept).memo("k", lambda: 2) == 2    # a new model starts empty
