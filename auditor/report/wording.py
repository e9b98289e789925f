"""The words of the HTML and PDF reports, as data: the registry of report styles and the
wording every style shares, read from YAML files beside the templates.

- ``reports/templates/styles/<name>.yaml``: one file per report style: how ``--style`` help
  names it, the frameworks it puts first, the scope tags its environment term names, its
  colours, the roles of the PDF's sign-off table, the HTML report's title, environment and
  subtitle, and the PDF's regime, summary and attestation prose. A style is its file:
  `style_names` lists them, `load_style` reads one; no code names a style.
- ``reports/templates/wording.yaml``: what no style changes: the PDF's style when none is
  given, the HTML's words without a style, the default words of a framework, and each finding
  status in each framework's own terms (PCI DSS v4.0.1 ROC reporting values, HIPAA), how the
  PDF's summary counts controls of each status, how a framework's requirement word is
  counted in running text (criterion, criteria), and the environment's name when a style's
  term does not fit the run's scope.

Every file is checked when it is read: a missing or unknown key, a value of the wrong type,
a status term map without exactly the finding statuses (auditor/vocabulary.py), a colour that
is not ``#rgb`` or ``#rrggbb``, a style's framework that has no catalogue in rules/frameworks
(or is listed twice), an empty list of sign-off roles is an InputError naming the file, line
and key. Compliance authors change these files, never Python.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from auditor.errors import InputError, Problem
from auditor.validation import did_you_mean
from auditor.vocabulary import STATUSES
from auditor.yamlpos import Located, PathKey, load_yaml

WORDING_FILE = "wording.yaml"
STYLES_FOLDER = "styles"
STYLE_SUFFIX = ".yaml"

# The shape of each file: key -> STR (a string), LIST (a list of strings), TERMS (a mapping of
# exactly the finding statuses to strings), TERMS_BY_ID (id -> TERMS), or a nested shape. Every
# key is required; no other key is allowed.
STR, LIST, TERMS, TERMS_BY_ID = "a string", "a list of strings", "status terms", "status terms by id"
# COLOUR: a CSS hex colour (#rgb or #rrggbb): a style's colours become CSS custom properties.
COLOUR = "a colour"
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
# FORMS_BY_WORD: word -> {one: how one is counted, other: how several are} ("Criterion" ->
# criterion, criteria): a word's plural is data, never the word with an "s".
FORMS_BY_WORD = "counted forms by word"
FORMS: Mapping[str, Any] = {"one": STR, "other": STR}
_TEXT_KEYS = ("title", "environment", "subtitle")
# Who says a rule supports a control (the authority map's source ids), and the label for
# citations made by both third-party mappings at once.
AUTHORITIES = ("aws-security-hub", "aws-config-pack", "framework-text", "third-party-steampipe",
               "third-party-prowler", "third-party-both", "pack-author")
# A style's colours: accent (the PDF's cover title, section headings and their rule; the HTML
# report's title), heading (subsection headings of both). Each is the CSS custom property
# --<key> (`Style.css`), which pdf_print.css and report.html.j2 use.
COLOUR_KEYS = ("accent", "heading")
# The words of the reports' cost view (auditor/report/cost_view.py): its title and lead, the two
# bars and their parts, the label of an unknown part, and what is said without a view
# (`not_computed` holds ``{reason}``).
COST_WORDS = ("title", "lead", "nat", "endpoints", "hours", "processing", "unknown", "not_recorded",
              "not_computed", "not_in_scope")
STYLE_SHAPE: Mapping[str, Any] = {
    "help": STR,
    "frameworks_first": LIST,
    "html": dict.fromkeys(_TEXT_KEYS, STR),
    "pdf": dict.fromkeys(("title", "regime", "environment", "data", "entity", "summary_lead", "attestation"), STR),
    "signoff_roles": LIST,
    "colours": dict.fromkeys(COLOUR_KEYS, COLOUR),
    "scope_tags": LIST,
}
WORDING_SHAPE: Mapping[str, Any] = {
    "pdf_default_style": STR,
    "neutral": dict.fromkeys(_TEXT_KEYS, STR),
    "framework_words": {"requirement": STR, "environment": STR},
    "regulated_environment": STR,
    "counted_words": FORMS_BY_WORD,
    "status_terms": {"default": TERMS, "frameworks": TERMS_BY_ID},
    "control_counts": {"default": TERMS, "frameworks": TERMS_BY_ID},
    "authority_labels": dict.fromkeys(AUTHORITIES, STR),
    "costs": dict.fromkeys(COST_WORDS, STR),
}


@dataclass(frozen=True)
class Style:
    """One report style, as its file says it."""

    name: str
    file: str
    help: str                          # e.g. "PCI DSS v4.0.1 / FFIEC"
    frameworks_first: tuple[str, ...]  # these frameworks first (in this order), then the rest by id
    # The scope tag values (any key, any case) whose data the style's environment term names;
    # a scope selecting by another value is called the regulated environment instead.
    scope_tags: tuple[str, ...]
    html: Mapping[str, str]            # title, environment, subtitle
    pdf: Mapping[str, str]             # title, regime, environment, data, entity, summary_lead, attestation
    # The rows of the PDF's sign-off table, in order (who signs: "Assessor (QSA / internal audit)").
    signoff_roles: tuple[str, ...] = ()
    colours: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))   # COLOUR_KEYS -> #hex

    def css(self) -> str:
        """The style's colours as CSS custom properties (``:root { --accent: #0b4d3c; ... }``),
        which the stylesheets use: no stylesheet names a style."""
        return ":root { " + " ".join(f"--{k}: {v};" for k, v in sorted(self.colours.items())) + " }"


@dataclass(frozen=True)
class Wording:
    """What every style shares (reports/templates/wording.yaml)."""

    file: str
    pdf_default_style: str             # the PDF's style when neither --style nor the profile names one
    neutral: Mapping[str, str]         # the HTML report's words without a style
    framework_words: Mapping[str, str]   # requirement, environment (a catalogue's own words come first)
    default_terms: Mapping[str, str]     # status -> term, for a framework without terms of its own
    framework_terms: Mapping[str, Mapping[str, str]]   # framework id -> status -> term
    default_counts: Mapping[str, str]    # status -> how the PDF summary counts controls of it ("not met")
    framework_counts: Mapping[str, Mapping[str, str]]  # framework id -> status -> the same in its words
    authority_labels: Mapping[str, str]  # authority id -> how a reader sees who maps a rule to a control
    # The environment's name when a style's term does not fit the scope ("in-scope (regulated) environment").
    regulated_environment: str = "in-scope (regulated) environment"
    # A framework's requirement word -> {one, other}: how reports count them in running text.
    counted_words: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    # The cost view's words (COST_WORDS -> text).
    costs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def counted(self, word: str, n: int) -> str:
        """`n` of a framework's requirement `word` in running text: ``1 criterion``, ``5
        criteria``, ``5 Annex A controls``. A word without counted forms is never guessed at:
        ``3 (Widget)``."""
        forms = self.counted_words.get(word)
        if forms is None:
            return f"{n} ({word})"
        return f"{n} {forms['one'] if n == 1 else forms['other']}"

    def authority_label(self, authorities: tuple[str, ...] | list[str]) -> str:
        """One label for a control's authority ids (AWS's first, then the third-party
        mappings, both at once as one, then the pack author, then ids without a label)."""
        ids, said = set(authorities), self.authority_labels
        labels = [said[a] for a in ("aws-security-hub", "aws-config-pack", "framework-text") if a in ids]
        third = {"third-party-steampipe", "third-party-prowler"} & ids
        if len(third) == 2:
            labels.append(said["third-party-both"])
        elif third:
            labels.append(said[third.pop()])
        if "pack-author" in ids:
            labels.append(said["pack-author"])
        return "; ".join(labels + sorted(a for a in ids if a not in said))

    def status_term(self, framework: str, status: str) -> str:
        """`status` (FAIL, PASS, ...) as the framework's reports say it (the status itself when unknown)."""
        return self.framework_terms.get(framework, self.default_terms).get(status, status)

    def count_words(self, framework: str) -> Mapping[str, str]:
        """Status -> how the PDF's summary counts the framework's controls of that status."""
        return self.framework_counts.get(framework, self.default_counts)


def templates_dir() -> Path:
    """The folder of the built-in templates and wording (reports/templates, or its copy in the wheel)."""
    from auditor.resources import builtin_dir

    return builtin_dir("templates")


def _shape_problems(doc: Located, data: Any, shape: Any, path: PathKey) -> list[Problem]:
    """Every way `data` (at `path` of `doc`) differs from `shape`."""
    if isinstance(shape, Mapping):
        if not isinstance(data, dict):
            return [doc.problem(path, "expected a mapping of " + ", ".join(shape))]
        return _keys_problems(doc, data, shape, path)
    if shape == STR:
        return [] if isinstance(data, str) else [doc.problem(path, "expected a string")]
    if shape == COLOUR:
        ok = isinstance(data, str) and _COLOUR.fullmatch(data) is not None
        return [] if ok else [doc.problem(path, "expected a colour: #rgb or #rrggbb (hex digits), e.g. #0b4d3c")]
    if shape == LIST:
        ok = isinstance(data, list) and all(isinstance(x, str) for x in data)
        return [] if ok else [doc.problem(path, "expected a list of strings")]
    if shape == TERMS:
        return _shape_problems(doc, data, dict.fromkeys(STATUSES, STR), path)
    if shape == FORMS_BY_WORD:
        if not isinstance(data, dict):
            return [doc.problem(path, "expected a mapping of word to its counted forms (one, other)")]
        return [p for k, v in data.items() for p in _shape_problems(doc, v, FORMS, (*path, k))]
    if shape == TERMS_BY_ID:
        if not isinstance(data, dict):
            return [doc.problem(path, "expected a mapping of framework id to status terms")]
        return [p for k, v in data.items() for p in _shape_problems(doc, v, TERMS, (*path, k))]
    raise ValueError(f"unknown shape {shape!r}")  # pragma: no cover - a mistake in the shapes above


def _keys_problems(doc: Located, data: dict[str, Any], shape: Mapping[str, Any], path: PathKey) -> list[Problem]:
    problems = [doc.problem((*path, k), f"unknown key '{k}'{did_you_mean(str(k), shape)}; allowed keys: "
                            f"{', '.join(shape)}", key=True) for k in data if k not in shape]
    for k, sub in shape.items():
        if k not in data:
            problems.append(doc.problem(path, f"missing key '{k}'", key=bool(path)))
        else:
            problems.extend(_shape_problems(doc, data[k], sub, (*path, k)))
    return problems


def _checked(path: Path, shape: Mapping[str, Any],
             more: Callable[[Located], list[Problem]] | None = None) -> dict[str, Any]:
    """The data of the YAML file `path`, checked against `shape` and, once it has that shape, by
    `more` (InputError listing every problem)."""
    doc = load_yaml(path)
    problems = _shape_problems(doc, doc.data, shape, ())
    if not problems and more is not None:
        problems = more(doc)
    if problems:
        raise InputError(problems)
    data: dict[str, Any] = doc.data
    return data


def framework_ids() -> tuple[str, ...]:
    """The ids of the built-in framework catalogues (rules/frameworks), sorted."""
    from auditor.rules.frameworks import load_catalogues

    return tuple(sorted(load_catalogues()))


def _style_problems(doc: Located) -> list[Problem]:
    """What a style's shape does not say: its frameworks have catalogues and come once each,
    it has someone to sign."""
    known, seen, problems = framework_ids(), set(), []
    for i, fw in enumerate(doc.data["frameworks_first"]):
        if fw not in known:
            problems.append(doc.problem(("frameworks_first", i), f"unknown framework '{fw}'{did_you_mean(fw, known)}; "
                                                                 f"known: {', '.join(known)}"))
        elif fw in seen:
            problems.append(doc.problem(("frameworks_first", i), f"framework '{fw}' is listed twice"))
        seen.add(fw)
    if not doc.data["signoff_roles"]:
        problems.append(doc.problem(("signoff_roles",), "expected at least one role to sign the report"))
    return problems


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


def style_names(folder: Path | None = None) -> tuple[str, ...]:
    """The report styles: the names of the files in `folder`/styles (default: the built-in
    templates), sorted."""
    where = (folder or templates_dir()) / STYLES_FOLDER
    return tuple(sorted(p.name[:-len(STYLE_SUFFIX)] for p in where.glob("*" + STYLE_SUFFIX) if p.is_file()))


def load_style(name: str, folder: Path | None = None) -> Style:
    """The style `name` (ValueError naming the styles there are when there is no such file;
    InputError when its file is not as STYLE_SHAPE says)."""
    known = style_names(folder)
    if name not in known:
        raise ValueError(f"unknown report style {name!r}; choose from {', '.join(known)}")
    path = (folder or templates_dir()) / STYLES_FOLDER / (name + STYLE_SUFFIX)
    return _style(name, *_version(path))


def _version(path: Path) -> tuple[str, str]:
    """A file as the caches below know it: its path and the SHA-256 of its bytes, so that an
    edited file is read again and an unchanged one is not parsed for every report."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = ""   # reading it again says what is wrong (never cached: that raises)
    return str(path), digest


@lru_cache(maxsize=64)
def _style(name: str, path: str, _digest: str) -> Style:
    data = _checked(Path(path), STYLE_SHAPE, _style_problems)
    return Style(name=name, file=path, help=data["help"], frameworks_first=tuple(data["frameworks_first"]),
                 scope_tags=tuple(data["scope_tags"]), html=_frozen(data["html"]), pdf=_frozen(data["pdf"]),
                 signoff_roles=tuple(data["signoff_roles"]), colours=_frozen(data["colours"]))


def load_wording(folder: Path | None = None) -> Wording:
    """The wording every style shares (`folder`/wording.yaml; default: the built-in templates)."""
    return _wording(*_version((folder or templates_dir()) / WORDING_FILE))


@lru_cache(maxsize=16)
def _wording(path_text: str, _digest: str) -> Wording:
    path = Path(path_text)
    data = _checked(path, WORDING_SHAPE)
    terms, counts = data["status_terms"], data["control_counts"]
    return Wording(file=str(path), pdf_default_style=data["pdf_default_style"], neutral=_frozen(data["neutral"]),
                   framework_words=_frozen(data["framework_words"]), default_terms=_frozen(terms["default"]),
                   framework_terms=_frozen({k: _frozen(v) for k, v in terms["frameworks"].items()}),
                   default_counts=_frozen(counts["default"]),
                   framework_counts=_frozen({k: _frozen(v) for k, v in counts["frameworks"].items()}),
                   authority_labels=_frozen(data["authority_labels"]),
                   regulated_environment=data["regulated_environment"],
                   counted_words=_frozen({k: _frozen(v) for k, v in data["counted_words"].items()}),
                   costs=_frozen(data["costs"]))


def default_style(folder: Path | None = None) -> str:
    """The PDF's default style as help texts name it: `Wording.pdf_default_style`, or, when the
    wording file cannot be read, where it is said (making a report then says what is wrong)."""
    try:
        return load_wording(folder).pdf_default_style
    except InputError:
        return f"that of {WORDING_FILE}"


def style_help(folder: Path | None = None) -> str:
    """The styles as ``--style`` help names them: each file's name and its ``help``, e.g.
    ``a (...), b (...) or c (...)``. A style whose file cannot be read is named alone (using it
    says what is wrong with it)."""
    parts = []
    for name in style_names(folder):
        try:
            parts.append(f"{name} ({load_style(name, folder).help})")
        except InputError:
            parts.append(name)
    return " or ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " or " + parts[-1]
