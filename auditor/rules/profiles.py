"""Profiles: a sector's selection and tuning of the rule packs.

A profile (``rules/profiles/<id>.yaml``, schema ``auditor/schemas/profile.schema.json``)
names the packs to run, parameter values, severity changes, the frameworks whose control
status is reported (in order), its report style and the words reports use. The built-in ones
are the files of rules/profiles/ (`builtin_profiles`). An audit config selects one
with ``profile:``; its own ``rule_packs`` and ``parameters`` apply on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from collections.abc import Mapping

from auditor.errors import InputError, Problem
from auditor.resources import builtin_dir
from auditor.validation import did_you_mean, schema_problems
from auditor.yamlpos import Located, load_yaml

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Profile:
    id: str
    version: str
    title: str
    description: str
    file: str
    frameworks: tuple[str, ...]
    packs: tuple[str, ...]
    style: str = ""
    wording: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    severity: Mapping[str, str] = field(default_factory=dict)
    fail_on: str = ""
    builtin: bool = False
    doc: Located | None = field(default=None, compare=False, repr=False)

    def summary(self) -> dict[str, Any]:
        """What findings.json records of the profile."""
        return {"id": self.id, "version": self.version, "title": self.title, "style": self.style,
                "frameworks": list(self.frameworks), "wording": dict(self.wording), "builtin": self.builtin}


def profiles_dir() -> Path:
    return builtin_dir("rules") / "profiles"


def builtin_profiles() -> tuple[str, ...]:
    folder = profiles_dir()
    return tuple(sorted(p.stem for p in folder.glob("*.yaml"))) if folder.is_dir() else ()


def resolve_profile(name: str, base_dir: Path) -> Path:
    """The file a config's ``profile:`` names: a built-in id, or a path (relative to `base_dir`)."""
    if "/" in name or name.endswith(SUFFIXES):
        return base_dir / name
    return profiles_dir() / f"{name}.yaml"


def load_profile(path: Path | str) -> Profile:
    """Read and validate a profile file (its shape; `apply_profile` checks its names)."""
    path = Path(path)
    doc = load_yaml(path)
    problems = schema_problems("profile", doc)
    if problems:
        raise InputError(problems)
    d = doc.data
    meta = d["profile"]
    builtin = path.parent.resolve() == profiles_dir().resolve()
    return Profile(id=meta["id"], version=meta["version"], title=meta["title"], description=meta["description"],
                   file=str(path), frameworks=tuple(meta["frameworks"]), packs=tuple(d["packs"]),
                   style=meta.get("style", ""), wording=MappingProxyType(dict(meta.get("wording", {}))),
                   parameters=MappingProxyType(dict(d.get("parameters", {}))),
                   severity=MappingProxyType(dict(d.get("severity", {}))), fail_on=d.get("fail_on", ""),
                   builtin=builtin, doc=doc)


def profile_problems(profile: Profile, pack_ids: tuple[str, ...], rule_ids: tuple[str, ...],
                     frameworks: tuple[str, ...]) -> list[Problem]:
    """Names in the profile that do not exist: packs, rules, frameworks."""
    doc = profile.doc
    problems: list[Problem] = []

    def problem(path: tuple[Any, ...], message: str, key: bool = False) -> None:
        problems.append(doc.problem(path, message, key=key) if doc is not None
                        else Problem(profile.file, 0, 0, ".".join(map(str, path)), message))

    for i, pid in enumerate(profile.packs):
        if pid not in pack_ids:
            problem(("packs", i), f"unknown pack '{pid}'{did_you_mean(pid, pack_ids)}; loaded packs: "
                                  f"{', '.join(pack_ids)}")
    for rid in profile.severity:
        if rid not in rule_ids:
            problem(("severity", rid), f"unknown rule '{rid}'{did_you_mean(rid, rule_ids)}", key=True)
    from auditor.rules.mapping_review import retired_problem

    for i, fw in enumerate(profile.frameworks):
        retired = retired_problem(fw) if fw not in frameworks else None
        if retired is not None:
            problem(("profile", "frameworks", i), retired)
        elif fw not in frameworks:
            problem(("profile", "frameworks", i), f"unknown framework '{fw}'{did_you_mean(fw, frameworks)}; "
                                                  f"known: {', '.join(sorted(frameworks))}")
    return problems
