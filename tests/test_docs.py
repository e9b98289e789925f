"""Documentation matches the tool: generated blocks current, every command and config key documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.cli import cli
from auditor.docgen import GENERATORS, render
from auditor.validation import load_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_generated_blocks_are_current(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert render(text) == text, f"run `python -m auditor.docgen` to refresh {path.name}"


def test_every_generator_is_used_somewhere() -> None:
    joined = "".join(p.read_text() for p in DOCS.glob("*.md"))
    for name in GENERATORS:
        assert f"BEGIN GENERATED: {name}" in joined


def test_every_command_and_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for name, command in cli.commands.items():  # type: ignore[attr-defined]
        assert f"`auditor {name}" in text, f"command {name} is not in docs/cli.md"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, f"option {opt} of {name} is not in docs/cli.md"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "config.md").read_text()
    schema = load_schema("audit-config")

    def walk(node: dict, path: str) -> None:  # type: ignore[type-arg]
        for key, sub in node.get("properties", {}).items():
            assert f"{key}:" in text, f"config key {path}{key} is not in docs/config.md"
            walk(sub, f"{path}{key}.")
            if isinstance(sub.get("items"), dict):
                walk(sub["items"], f"{path}{key}[].")

    walk(schema, "")


def test_rules_md_is_the_output_of_auditor_rules_docs() -> None:
    from auditor.rules.docs import rules_markdown
    from auditor.rules.packs import load_packs
    from auditor.rules.profiles import builtin_profiles, load_profile, profiles_dir

    profiles = [load_profile(profiles_dir() / f"{p}.yaml") for p in builtin_profiles()]
    assert (DOCS / "rules.md").read_text(encoding="utf-8") == rules_markdown(load_packs(), profiles), (
        "run `auditor rules docs --out docs/rules.md`")
