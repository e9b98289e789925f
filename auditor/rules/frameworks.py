"""Framework catalogues and the authority map (``rules/frameworks/``).

A *catalogue* (``<framework>.yaml``) lists the control ids of one framework that a source cites
for a network check. Rule packs may only cite ids that exist there. The *authority map*
(``authority.yaml``) says which catalogue checks (``NET-...``) map to which controls, through
which source control or rule, and on whose authority: AWS Security Hub, AWS Config conformance
packs (membership only), or the third-party Steampipe or Prowler mappings. See
``rules/frameworks/mappings-source.md``.

Both kinds of file are validated against ``auditor/schemas/framework.schema.json`` and semantic
checks. Every problem is raised at once as an InputError, with its file, line and column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast
from collections.abc import Mapping

from auditor.errors import InputError, Problem
from auditor.resources import builtin_dir
from auditor.validation import did_you_mean, load_schema, schema_problems
from auditor.yamlpos import Located, PathKey, dotted, load_yaml

Authority = Literal["aws-security-hub", "aws-config-pack", "framework-text", "third-party-steampipe",
                    "third-party-prowler"]
# framework-text: our own reading of the framework's text, allowed only with a one-line rationale
# (rules/frameworks/mapping-review.yaml).
AUTHORITIES: tuple[Authority, ...] = ("aws-security-hub", "aws-config-pack", "framework-text", "third-party-steampipe",
                                      "third-party-prowler")
THIRD_PARTY: frozenset[str] = frozenset({"third-party-steampipe", "third-party-prowler"})

AUTHORITY_FILE = "authority.yaml"
REVIEW_FILE = "mapping-review.yaml"
RISK_FILE = "risk-analysis.yaml"
NOT_CATALOGUES = frozenset({AUTHORITY_FILE, REVIEW_FILE, RISK_FILE})
_SCHEMA = "framework"
_MARKER = "authority_map"


def default_folder() -> Path:
    """The built-in ``rules/frameworks`` folder (from a checkout or an installed wheel)."""
    return builtin_dir("rules") / "frameworks"


# --------------------------------------------------------------------------- catalogues


@dataclass(frozen=True)
class Control:
    """One control of a framework, e.g. PCI DSS ``1.3.1``."""

    id: str
    title: str
    cited_by: tuple[str, ...] = ()
    note: str = ""
    kind: str = ""            # HIPAA: "standard" or "implementation specification"
    designation: str = ""     # HIPAA: "required" or "addressable"


@dataclass(frozen=True)
class Catalogue:
    """The control ids of one framework that this tool may cite."""

    id: str
    title: str
    version: str
    publisher: str
    wording: Mapping[str, str]
    controls: Mapping[str, Control]
    source: str
    notes: tuple[str, ...] = ()
    id_pattern: str | None = None
    excluded: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    file: str = ""

    def __contains__(self, control: object) -> bool:
        return control in self.controls

    @property
    def label(self) -> str:
        """``PCI DSS 4.0.1`` - the name reports use."""
        return f"{self.title} {self.version}"


def _phrase_key(key: Any) -> str:
    return f"'{key}'" if isinstance(key, str) else f"{key!r}"


def _key_problems(doc: Located, path: PathKey, pattern: str, hint: str, what: str) -> tuple[list[Problem], set[Any]]:
    """Problems for keys of the mapping at `path` that are not strings matching `pattern`,
    each placed on the key itself (the schema's propertyNames errors point at the mapping)."""
    node = _get(doc.data, path)
    problems: list[Problem] = []
    bad: set[Any] = set()
    if not isinstance(node, dict):
        return problems, bad
    for key in node:
        if not isinstance(key, str):
            bad.add(key)
            problems.append(doc.problem(path + (key,), f"{what} {key!r} must be a quoted string "
                                        f"(YAML read it as a {type(key).__name__}); write \"{key}\"", key=True))
        elif not re.search(pattern, key):
            bad.add(key)
            problems.append(doc.problem(path + (key,), f"{what} '{key}' is not valid: {hint}", key=True))
    return problems, bad


def _drop_key_duplicates(problems: list[Problem], path: PathKey, bad: set[Any]) -> list[Problem]:
    """Remove the schema's own (less precise) reports of the keys `_key_problems` already placed."""
    if not bad:
        return problems
    where = dotted(path)
    out = []
    for p in problems:
        if p.path == where and (p.message.startswith("expected a string, got")
                                or any(p.message.startswith(f"{_phrase_key(k)} is not valid") for k in bad)):
            continue
        out.append(p)
    return out


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _def(name: str) -> dict[str, Any]:
    definition: dict[str, Any] = load_schema(_SCHEMA)["$defs"][name]
    return definition


def _validate(doc: Located, *, want_authority: bool) -> list[Problem]:
    """Schema problems of `doc` as the kind of file the caller expects.

    The schema tells the two kinds apart by the ``authority_map`` marker; a catalogue that has the
    marker, or an authority map without it, is reported as such and still checked as what it
    should be, so every other problem shows too.
    """
    problems: list[Problem] = []
    data = doc.data
    if isinstance(data, dict):
        if want_authority and _MARKER not in data:
            problems.append(doc.problem((), f"missing required key '{_MARKER}' (write {_MARKER}: 1 first)"))
            data = {_MARKER: 1, **data}
        elif not want_authority and _MARKER in data:
            problems.append(doc.problem((_MARKER,), f"unknown key '{_MARKER}': this file is a framework "
                                        f"catalogue; the authority map lives in {AUTHORITY_FILE}", key=True))
            data = {k: v for k, v in data.items() if k != _MARKER}
    view = Located(file=doc.file, data=data, values=doc.values, keys=doc.keys, raw=doc.raw)
    return problems + schema_problems(_SCHEMA, view)


def load_catalogue(path: Path | str) -> Catalogue:
    """Read and validate one catalogue file. Raises InputError listing every problem."""
    path = Path(path)
    doc = load_yaml(path)
    problems = _validate(doc, want_authority=False)
    control_def = _def("control_id")
    bad: set[Any] = set()
    for where in (("controls",), ("excluded",)):
        key_problems, bad_here = _key_problems(doc, where, control_def["pattern"], control_def["x-hint"], "control id")
        problems = _drop_key_duplicates(problems, where, bad_here) + key_problems
        bad |= bad_here
    data = doc.data if isinstance(doc.data, dict) else {}

    framework = data.get("framework")
    if isinstance(framework, str) and framework != path.stem:
        problems.append(doc.problem(("framework",), f"framework '{framework}' must match the file name "
                                    f"('{path.stem}'); rename one of them"))
    id_pattern = data.get("id_pattern")
    controls = data.get("controls")
    if isinstance(id_pattern, str):
        try:
            compiled = re.compile(id_pattern)
        except re.error as exc:
            problems.append(doc.problem(("id_pattern",), f"not a valid regular expression: {exc}"))
        else:
            if isinstance(controls, dict):
                for key in controls:
                    if isinstance(key, str) and key not in bad and not compiled.search(key):
                        problems.append(doc.problem(("controls", key), f"control id '{key}' does not match this "
                                                    f"framework's id_pattern {id_pattern}", key=True))
    excluded = data.get("excluded")
    if isinstance(excluded, dict) and isinstance(controls, dict):
        for key in excluded:
            if key in controls:
                problems.append(doc.problem(("excluded", key), f"'{key}' is both a control and excluded; "
                                            f"keep it in one place", key=True))
    if problems:
        raise InputError(problems)

    built = {
        key: Control(id=key, title=value["title"], cited_by=tuple(value.get("cited_by", ())),
                     note=value.get("note", ""), kind=value.get("kind", ""),
                     designation=value.get("designation", ""))
        for key, value in cast(dict[str, dict[str, Any]], controls).items()
    }
    return Catalogue(
        id=data["framework"], title=data["title"], version=data["version"], publisher=data["publisher"],
        wording=MappingProxyType(dict(data["wording"])), controls=MappingProxyType(built),
        source=data["source"], notes=tuple(data.get("notes", ())), id_pattern=id_pattern,
        excluded=MappingProxyType(dict(data.get("excluded") or {})), file=str(path),
    )


def load_catalogues(folder: Path | None = None) -> dict[str, Catalogue]:
    """Every catalogue in `folder` (default: the built-in ``rules/frameworks``), by framework id.

    ``authority.yaml``, ``mapping-review.yaml`` and ``risk-analysis.yaml`` are not catalogues and are skipped. Problems in all files are raised together.
    """
    folder = default_folder() if folder is None else Path(folder)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), 0, 0, "", "framework catalogue folder not found")])
    catalogues: dict[str, Catalogue] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name in NOT_CATALOGUES:
            continue
        try:
            catalogue = load_catalogue(path)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        catalogues[catalogue.id] = catalogue
    if problems:
        raise InputError(problems)
    if not catalogues:
        raise InputError([Problem(str(folder), 0, 0, "", "no framework catalogues (*.yaml) in this folder")])
    return catalogues


# --------------------------------------------------------------------------- look-ups


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d"), "-")


def _normal(control: str) -> str:
    """Fold what people get wrong when they copy an id: typographic or missing dashes, spaces, case."""
    text = unicodedata.normalize("NFKC", str(control)).translate(_DASHES)
    return text.replace("-", "").replace(" ", "").casefold()


def control_exists(catalogues: Mapping[str, Catalogue], framework: str, control: str) -> bool:
    """True when `control` is an id of `framework` exactly as written."""
    catalogue = catalogues.get(framework)
    return catalogue is not None and control in catalogue.controls


def suggest_control(catalogues: Mapping[str, Catalogue], framework: str, control: str) -> str:
    """`` (did you mean 'x'?)`` for a control id that is not in `framework`, else ``""``.

    A spelling that differs only in case, dashes or spaces (``AC‑4(21)`` pasted from a document,
    ``SC7(5)``, ``d3.pc.im.b.1``) is matched first; otherwise the closest id by similarity. An id the
    catalogue deliberately excludes gets no suggestion (a neighbour would be a different control).
    """
    catalogue = catalogues.get(framework)
    if catalogue is None or control in catalogue.controls or control in catalogue.excluded:
        return ""
    folded = {_normal(c): c for c in catalogue.controls}
    if _normal(control) in folded:
        return f" (did you mean '{folded[_normal(control)]}'?)"
    return did_you_mean(str(control), catalogue.controls)


def control_problem(catalogues: Mapping[str, Catalogue], framework: str, control: str) -> str | None:
    """None when `framework`/`control` can be cited, else a message saying what is wrong."""
    if framework not in catalogues:
        return (f"unknown framework '{framework}'{did_you_mean(framework, catalogues)}; "
                f"known: {', '.join(sorted(catalogues))}")
    if control_exists(catalogues, framework, control):
        return None
    reason = catalogues[framework].excluded.get(control)
    if reason is not None:
        return f"'{control}' must not be cited for {framework}: {reason}"
    return (f"'{control}' is not a control of {framework}{suggest_control(catalogues, framework, control)} "
            f"(see rules/frameworks/{framework}.yaml)")


# --------------------------------------------------------------------------- authority map


@dataclass(frozen=True)
class AwsPack:
    """An AWS Config conformance pack that aws-config-pack mappings name."""

    id: str
    title: str
    framework: str | None = None
    url: str | None = None
    note: str = ""


@dataclass(frozen=True)
class AuthorityEntry:
    """One mapping: these checks support these controls, through `via`, on `authority`'s word."""

    checks: tuple[str, ...]
    authority: Authority
    via: str
    controls: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    packs: tuple[str, ...] = ()
    outside_catalogues: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    incomplete: bool = False
    inferred: bool = False
    source: str = ""
    note: str = ""
    line: int = 0

    @property
    def third_party(self) -> bool:
        return self.authority in THIRD_PARTY


@dataclass(frozen=True)
class AuthorityMap:
    """The whole of ``authority.yaml``."""

    file: str
    source: str
    notes: tuple[str, ...]
    packs: Mapping[str, AwsPack]
    entries: tuple[AuthorityEntry, ...]
    catalogue: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # check id -> name

    @property
    def check_ids(self) -> frozenset[str]:
        """Every check of the catalogue, mapped to a control or not."""
        return frozenset(self.catalogue)

    @property
    def checks(self) -> frozenset[str]:
        return frozenset(c for e in self.entries for c in e.checks)

    def for_check(self, check: str) -> tuple[AuthorityEntry, ...]:
        return tuple(e for e in self.entries if check in e.checks)

    def citations(self, check: str) -> dict[str, dict[str, tuple[Authority, ...]]]:
        """framework -> control -> the authorities that map `check` to it (in AUTHORITIES order)."""
        found: dict[str, dict[str, set[Authority]]] = {}
        for entry in self.for_check(check):
            for framework, controls in entry.controls.items():
                for control in controls:
                    found.setdefault(framework, {}).setdefault(control, set()).add(entry.authority)
        return {fw: {c: tuple(a for a in AUTHORITIES if a in auths) for c, auths in sorted(ctrls.items())}
                for fw, ctrls in sorted(found.items())}

    def aws_packs_for(self, check: str) -> tuple[str, ...]:
        """The AWS conformance packs whose rules cover `check` (membership, not controls)."""
        return tuple(sorted({p for e in self.for_check(check) if e.authority == "aws-config-pack" for p in e.packs}))


def _authority_semantics(doc: Located, catalogues: Mapping[str, Catalogue]) -> list[Problem]:
    problems: list[Problem] = []
    data = doc.data if isinstance(doc.data, dict) else {}
    packs = data.get("aws_config_packs")
    pack_ids = [k for k in packs if isinstance(k, str)] if isinstance(packs, dict) else []
    if isinstance(packs, dict):
        for pack_id, pack in packs.items():
            framework = pack.get("framework") if isinstance(pack, dict) else None
            if isinstance(framework, str) and framework not in catalogues:
                problems.append(doc.problem(("aws_config_packs", pack_id, "framework"),
                                            f"unknown framework '{framework}'{did_you_mean(framework, catalogues)}"))
    catalogue = data.get("checks")
    known_checks = [k for k in catalogue if isinstance(k, str)] if isinstance(catalogue, dict) else []
    mappings = data.get("mappings")
    for i, entry in enumerate(mappings if isinstance(mappings, list) else []):
        if not isinstance(entry, dict):
            continue
        checks = entry.get("checks")
        for j, check in enumerate(checks if isinstance(checks, list) and known_checks else []):
            if isinstance(check, str) and check not in known_checks:
                problems.append(doc.problem(("mappings", i, "checks", j),
                                            f"unknown check '{check}'{did_you_mean(check, known_checks)}; "
                                            "declare it under checks"))
        controls = entry.get("controls")
        for framework, ids in (controls.items() if isinstance(controls, dict) else []):
            if not isinstance(framework, str):
                continue
            if framework not in catalogues:
                problems.append(doc.problem(("mappings", i, "controls", framework),
                                            f"unknown framework '{framework}'{did_you_mean(framework, catalogues)}; "
                                            f"known: {', '.join(sorted(catalogues))}", key=True))
                continue
            for j, control in enumerate(ids if isinstance(ids, list) else []):
                message = control_problem(catalogues, framework, control) if isinstance(control, str) else None
                if message is not None:
                    problems.append(doc.problem(("mappings", i, "controls", framework, j), message))
        entry_packs = entry.get("packs")
        for j, pack in enumerate(entry_packs if isinstance(entry_packs, list) else []):
            if isinstance(pack, str) and pack not in pack_ids:
                problems.append(doc.problem(("mappings", i, "packs", j),
                                            f"unknown pack '{pack}'{did_you_mean(pack, pack_ids)}; "
                                            f"declare it under aws_config_packs"))
    return problems


def load_authority(path: Path | str | None = None,
                   catalogues: Mapping[str, Catalogue] | None = None) -> AuthorityMap:
    """Read and validate the authority map (default: the built-in ``rules/frameworks/authority.yaml``).

    Every framework and control id it names must exist in `catalogues` (default: the catalogues in
    the same folder). Raises InputError listing every problem.
    """
    path = default_folder() / AUTHORITY_FILE if path is None else Path(path)
    if catalogues is None:
        catalogues = load_catalogues(path.parent)
    doc = load_yaml(path)
    problems = _validate(doc, want_authority=True)
    fw_def = _def("framework_id")
    mappings = doc.data.get("mappings") if isinstance(doc.data, dict) else None
    count = len(mappings) if isinstance(mappings, list) else 0
    for where in [("aws_config_packs",), *(("mappings", i, "controls") for i in range(count))]:
        key_problems, bad = _key_problems(doc, where, fw_def["pattern"], fw_def["x-hint"], "framework id")
        problems = _drop_key_duplicates(problems, where, bad) + key_problems
    problems += _authority_semantics(doc, catalogues)
    if problems:
        raise InputError(problems)

    data: dict[str, Any] = doc.data
    packs = {
        pack_id: AwsPack(id=pack_id, title=p["title"], framework=p.get("framework"), url=p.get("url"),
                         note=p.get("note", ""))
        for pack_id, p in data["aws_config_packs"].items()
    }
    entries = []
    for i, e in enumerate(data["mappings"]):
        entries.append(AuthorityEntry(
            checks=tuple(e["checks"]), authority=cast(Authority, e["authority"]), via=e["via"],
            controls=MappingProxyType({fw: tuple(ids) for fw, ids in (e.get("controls") or {}).items()}),
            packs=tuple(e.get("packs", ())),
            outside_catalogues=MappingProxyType({k: tuple(str(x) for x in v)
                                                 for k, v in (e.get("outside_catalogues") or {}).items()}),
            incomplete=bool(e.get("incomplete", False)), inferred=bool(e.get("inferred", False)),
            source=e.get("source", ""), note=e.get("note", ""), line=doc.where(("mappings", i))[0],
        ))
    return AuthorityMap(file=str(path), source=data["source"], notes=tuple(data.get("notes", ())),
                        packs=MappingProxyType(packs), entries=tuple(entries),
                        catalogue=MappingProxyType(dict(data["checks"])))
