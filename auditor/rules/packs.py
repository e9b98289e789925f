"""Rule packs: load YAML packs, check them, and hand out immutable rules.

`load_packs` reads the built-in packs (``rules/packs`` in a checkout,
``auditor/_builtin/rules/packs`` in a wheel) and any pack files or folders given, validates
each against ``auditor/schemas/rule-pack.schema.json`` and the semantic checks of
`auditor.rules.pack_checks` (across all packs at once), and returns a `PackSet`. Every
problem is raised at once as an InputError; nothing is returned while any is left.

A rule's `where` and `check` are a typed condition tree (`Leaf`, `AllOf`, `AnyOf`, `Not`):
the one representation of the condition language from loading to evaluation
(`auditor.rules.conditions` compiles it as it is; `rules show` and `rules docs` render it).

Parameters are bound when a pack loads, never later: each leaf carries its argument as
written (``written``, may hold ``${param}``), the values in force of the parameters it
names (``bindings``) and, derived from those two by `pack_checks.substitute` when the leaf
is made, the argument the operator sees (``arg``). `PackSet.with_overrides` re-binds
leaves with a config's values (`bind`); a ``for_each`` rule holds one bound tree per
element of its list (`Rule.instances`). The evaluator never sees ``${param}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Mapping, Sequence

from auditor.errors import InputError, Problem
from auditor.rules.pack_checks import (
    GROUP_KEYS, ITEM, LEAF_KEYS, PARAM_REF, PackDoc, ParamDecl, Registries, check_packs, default_registries,
    for_each_item, param_refs, relabel, some_names, substitute, type_error,
)
from auditor.validation import did_you_mean, schema_problems
from auditor.yamlpos import Located, PathKey, dotted, load_yaml

PACK_SUFFIXES = (".yaml", ".yml")

if TYPE_CHECKING:
    from auditor.rules.profiles import Profile


# -- the objects -----------------------------------------------------------------------

@dataclass(frozen=True)
class Parameter:
    """A typed pack parameter and the value in force (its default unless overridden)."""

    pack: str
    name: str
    type: str                      # string | integer | number | boolean | list
    items: str | None              # element type of a list
    default: Any
    value: Any
    description: str = ""
    position: tuple[str, int, int] = ("", 0, 0)   # file, line, col of the declaration


@dataclass(frozen=True)
class Leaf:
    """``{attr: PATH, OPERATOR: ARGUMENT}``.

    `arg` is not given: it is `written` with `bindings` substituted, made here and nowhere
    else, so that the two can never disagree. Re-binding a parameter is
    ``replace(leaf, bindings=...)``. Raises ValueError when `written` names a parameter
    `bindings` lacks."""

    attr: str
    op: str
    written: Any                   # as written in the pack (may hold ${param})
    quantifier: str = "any"        # any | all (meaningful with [*] in attr)
    path: str = ""                 # where in the rule, e.g. check.all[0]
    bindings: Mapping[str, Any] = field(default_factory=dict)   # ${name} -> value in force
    arg: Any = field(init=False)   # `written` with `bindings` substituted: what the operator sees

    def __post_init__(self) -> None:
        object.__setattr__(self, "arg", substitute(self.written, self.bindings))

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.bindings)


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]
    path: str = ""


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    path: str = ""


@dataclass(frozen=True)
class Not:
    item: Condition
    path: str = ""


Condition = Leaf | AllOf | AnyOf | Not


def bind(cond: Condition, values: Mapping[str, Any]) -> Condition:
    """`cond` with the parameters `values` names (``${name}`` -> value) taking those values:
    each leaf that refers to one is made again with its new bindings (its `arg` follows);
    the rest of the tree is shared."""
    if isinstance(cond, Leaf):
        if not any(n in values for n in cond.bindings):
            return cond
        return replace(cond, bindings=MappingProxyType({n: values.get(n, v) for n, v in cond.bindings.items()}))
    if isinstance(cond, Not):
        return replace(cond, item=bind(cond.item, values))
    return replace(cond, items=tuple(bind(c, values) for c in cond.items))


@dataclass(frozen=True)
class Instance:
    """A rule bound for one element of its ``for_each`` list (``${item}`` = `item`), or, for
    a plain rule, the rule itself (`item` None): what the engine evaluates."""

    item: Any
    check: Condition
    where: Condition | None


@dataclass(frozen=True)
class Rule:
    """One rule, with parameters bound."""

    id: str
    title: str
    severity: str
    resource: str
    check: Condition
    message: str
    rationale: str
    remediation: Mapping[str, str]
    references: tuple[str, ...]
    frameworks: Mapping[str, tuple[str, ...]]
    pack: str
    source: tuple[str, int]                         # file, line of the rule
    where: Condition | None = None
    deprecated: bool = False
    replaced_by: str | None = None
    deprecation_reason: str = ""
    params: Mapping[str, tuple[str, str]] = field(default_factory=dict)   # ${name} -> (owning pack, name)
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # "check.all[0]" -> (line, col)
    for_each: tuple[str, str] | None = None        # (owning pack, list parameter) the rule runs once per element of
    for_each_values: tuple[Any, ...] = ()          # that parameter's value in force
    implements: tuple[str, ...] = ()               # NET-... catalogue checks
    # Derived from the fields above when the rule is made (see `instances`).
    _instances: tuple[Instance, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        instances: tuple[Instance, ...]
        if self.for_each is None:
            instances = (Instance(None, self.check, self.where),)
        else:
            instances = tuple(Instance(x, bind(self.check, {ITEM: x}),
                                       bind(self.where, {ITEM: x}) if self.where is not None else None)
                              for x in self.for_each_values)
        object.__setattr__(self, "_instances", instances)

    @property
    def instances(self) -> tuple[Instance, ...]:
        """What the engine evaluates, bound: one `Instance` per element of the ``for_each``
        list in force, in its order (none for an empty list), or the rule's own `check` and
        `where` for a plain rule. In `check` and `where` of a ``for_each`` rule, ``${item}``
        is bound to a sample (the list's first default element), as `rules show` prints it."""
        return self._instances

    @property
    def items(self) -> tuple[Any, ...] | None:
        """The elements the rule is evaluated for (``${item}``), or None for a plain rule."""
        return self.for_each_values if self.for_each is not None else None

    def position(self, path: str) -> tuple[str, int, int]:
        """file, line, col of a key path inside the rule (else of the rule)."""
        line, col = self.positions.get(path, (self.source[1], 1))
        return self.source[0], line, col

    def leaves(self) -> list[Leaf]:
        return [*(_leaves(self.where) if self.where is not None else []), *_leaves(self.check)]

    @property
    def param_values(self) -> dict[str, Any]:
        """``${name}`` -> the value in force, for every parameter the rule refers to."""
        return {n: v for leaf in self.leaves() for n, v in leaf.bindings.items()}


def _leaves(cond: Condition) -> list[Leaf]:
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, Not):
        return _leaves(cond.item)
    return [leaf for c in cond.items for leaf in _leaves(c)]


@dataclass(frozen=True)
class Pack:
    """One pack file."""

    id: str
    version: str
    title: str
    description: str
    file: str
    includes: tuple[str, ...] = ()
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    frameworks: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    builtin: bool = False


@dataclass(frozen=True)
class PackSet:
    """Loaded, checked packs (in load order: built-in first) and their rules."""

    packs: tuple[Pack, ...]
    registries: Registries | None = field(default=None, compare=False, repr=False)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule, sorted by id."""
        return tuple(sorted((r for p in self.packs for r in p.rules), key=lambda r: r.id))

    @property
    def rules_by_id(self) -> Mapping[str, Rule]:
        return MappingProxyType({r.id: r for r in self.rules})

    @property
    def pack_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.packs)

    def pack(self, pack_id: str) -> Pack:
        for p in self.packs:
            if p.id == pack_id:
                return p
        raise KeyError(pack_id)

    def rule(self, rule_id: str) -> Rule:
        return self.rules_by_id[rule_id]

    def parameter(self, pack_id: str, name: str) -> Parameter:
        return self.pack(pack_id).parameters[name]

    def select(self, pack_ids: Iterable[str], *, config: Located | None = None, file: str = "<config>",
               at: PathKey = ("rule_packs",)) -> PackSet:
        """The named packs and every pack they include (transitively), in load order.

        Unknown ids are an InputError located in `config` (at ``at[i]``) when given, else in
        `file` (read again for positions when it is a YAML file)."""
        config = config if config is not None else _reread(file)
        wanted: set[str] = set()
        problems: list[Problem] = []
        todo: list[str] = []
        for i, pid in enumerate(pack_ids):
            if pid not in self.pack_ids:
                msg = f"unknown pack '{pid}'{did_you_mean(pid, self.pack_ids)}; loaded packs: {some_names(self.pack_ids)}"
                problems.append(config.problem(at + (i,), msg) if config is not None
                                else Problem(file, 0, 0, dotted(at + (i,)), msg))
            todo.append(pid)
        if problems:
            raise InputError(problems)
        while todo:
            pid = todo.pop()
            if pid not in wanted:
                wanted.add(pid)
                todo.extend(self.pack(pid).includes)
        return PackSet(tuple(p for p in self.packs if p.id in wanted), self.registries)

    def with_overrides(self, params: Mapping[str, Mapping[str, Any]], *, config: Located | None = None,
                       file: str = "<config>", at: PathKey = ("parameters",)) -> PackSet:
        """A copy with parameter values overridden: ``{pack id: {name: value}}``.

        Unknown packs or names, values of the wrong type, and values an operator that uses
        them cannot take (e.g. a bad regex) are an InputError. Problems are located in
        `config` (a Located of the config file, values under ``at``) when given, else in
        `file` at ``parameters.<pack>.<name>`` (read again for positions when it is a YAML file)."""
        if params and config is None:
            config = _reread(file)

        def problem(path: PathKey, message: str, key: bool = False) -> Problem:
            if config is not None:
                return config.problem(at + path, message, key=key)
            return Problem(file, 0, 0, dotted(at + path), message)

        problems: list[Problem] = []
        values: dict[tuple[str, str], Any] = {}
        for pid, overrides in params.items():
            if pid not in self.pack_ids:
                problems.append(problem((pid,), f"unknown pack '{pid}'{did_you_mean(str(pid), self.pack_ids)}; "
                                        f"loaded packs: {some_names(self.pack_ids)}", key=True))
                continue
            pack = self.pack(pid)
            if not isinstance(overrides, Mapping):
                problems.append(problem((pid,), "expected a mapping of parameter name -> value"))
                continue
            for name, value in overrides.items():
                decl = pack.parameters.get(name)
                if decl is None:
                    owners = [p.id for p in self.packs if name in p.parameters]
                    hint = did_you_mean(str(name), pack.parameters)
                    if owners:
                        hint += f" ('{name}' is a parameter of pack {owners[0]}: set it under {owners[0]})"
                    declared = ", ".join(pack.parameters) or "none"
                    problems.append(problem((pid, name), f"pack {pid} has no parameter '{name}'{hint}; "
                                            f"its parameters: {declared}", key=True))
                    continue
                err = type_error(value, decl.type, decl.items)
                if err:
                    want = f"{decl.type} of {decl.items}" if decl.items else decl.type
                    problems.append(problem((pid, name), f"{err} (the parameter is declared as {want})"))
                    continue
                values[(pid, name)] = value
        if problems:
            raise InputError(problems)
        packs = tuple(_rebind_pack(p, values) for p in self.packs)
        operators = (self.registries or default_registries()).operators
        for p in packs:
            for rule in p.rules:
                for leaf in rule.leaves():
                    used = [rule.params[n] for n in leaf.params if n in rule.params]
                    if not any(u in values for u in used):
                        continue
                    op = operators.get(leaf.op)
                    err = op.check_arg(leaf.arg) if op is not None else None
                    if err:
                        for owner in [u for u in used if u in values]:
                            problems.append(problem(owner, f"value does not suit rule {rule.id} "
                                                    f"{leaf.path}.{leaf.op}: {err}"))
        if problems:
            raise InputError(problems)
        return PackSet(packs, self.registries)


def _reread(file: str) -> Located | None:
    """The config file parsed again, only to locate problems; None when that fails."""
    try:
        return load_yaml(file) if Path(file).is_file() else None
    except InputError:
        return None


def _rebind_pack(pack: Pack, values: Mapping[tuple[str, str], Any]) -> Pack:
    """The pack with overridden parameter values and its rules re-bound."""
    params = {n: replace(prm, value=values[(pack.id, n)]) if (pack.id, n) in values else prm
              for n, prm in pack.parameters.items()}
    return replace(pack, parameters=MappingProxyType(params),
                   rules=tuple(_rebind_rule(r, values) for r in pack.rules))


def _rebind_rule(rule: Rule, values: Mapping[tuple[str, str], Any]) -> Rule:
    if rule.for_each is not None and rule.for_each in values:
        rule = replace(rule, for_each_values=tuple(values[rule.for_each]))
    if not any(owner in values for owner in rule.params.values()):
        return rule
    return replace(rule, check=_rebind(rule.check, rule, values),
                   where=_rebind(rule.where, rule, values) if rule.where is not None else None)


def _rebind(cond: Condition, rule: Rule, values: Mapping[tuple[str, str], Any]) -> Condition:
    """`cond` with the overridden values of the parameters `rule` refers to."""
    return bind(cond, {n: values[owner] for n, owner in rule.params.items() if owner in values})


# -- loading ---------------------------------------------------------------------------

def builtin_packs_dir() -> Path | None:
    """The folder of built-in packs, or None when there is none (yet)."""
    from auditor.resources import builtin_dir

    try:
        folder = builtin_dir("rules") / "packs"
    except FileNotFoundError:
        return None
    return folder if folder.is_dir() else None


def _pack_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted((f for f in path.rglob("*") if f.is_file() and f.suffix in PACK_SUFFIXES
                       and not any(part.startswith(".") for part in f.relative_to(path).parts)),
                      key=lambda f: f.relative_to(path).as_posix())
    return [path]


def load_packs(paths: Sequence[Path | str] = (), *, builtin: bool = True,
               registries: Registries | None = None) -> PackSet:
    """Load and check the built-in packs (unless `builtin` is false) and those at `paths`
    (pack files, or folders searched recursively for *.yaml / *.yml, in sorted order)."""
    files: list[tuple[Path, bool]] = []
    problems: list[Problem] = []
    if builtin:
        folder = builtin_packs_dir()
        if folder is not None:
            files += [(f, True) for f in _pack_files(folder)]
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            problems.append(Problem(str(p), 0, 0, "", "no such pack file or folder"))
            continue
        found = _pack_files(p)
        if not found:
            problems.append(Problem(str(p), 0, 0, "", "the folder holds no pack files (*.yaml, *.yml)"))
        files += [(f, False) for f in found]
    seen: set[Path] = set()
    docs: list[PackDoc] = []
    schema: list[Problem] = []
    for f, is_builtin in files:
        key = f.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            doc = load_yaml(f)
        except InputError as exc:
            problems += [_pack_hint(p) for p in exc.problems]
            continue
        if not isinstance(doc.data, dict):
            problems.append(doc.problem((), "expected a mapping with 'pack' and 'rules' at the top of the file"))
            continue
        pd = PackDoc(doc, is_builtin)
        docs.append(pd)
        schema += [_schema_hint(relabel(pd, p)) for p in schema_problems("rule-pack", doc)]
    reg = registries or default_registries()
    semantic = check_packs(docs, reg)
    covered = {(p.file, p.line, p.col) for p in semantic}
    problems += semantic + _without_superseded([p for p in schema if (p.file, p.line, p.col) not in covered])
    if problems:
        raise InputError(problems)
    return _build(docs, reg)


_SKELETON = ("a rule pack starts with pack: {id, version, title, description} and rules: [...] "
             "(see docs/rule-packs.md)")


def _pack_hint(problem: Problem) -> Problem:
    """A YAML problem with a hint that suits pack files."""
    msg = problem.message
    if msg.startswith(("the file is empty", "the file has no content")):
        return replace(problem, message=f"{msg}; {_SKELETON}")
    if "expected ',' or '}'" in msg or "expected ',' or ']'" in msg:
        return replace(problem, message=f"{msg} (is a {{ or [ on an earlier line left unclosed?)")
    return problem


def _schema_hint(problem: Problem) -> Problem:
    """A schema problem with a hint on how to write what was expected."""
    if problem.message.startswith("expected a list, got"):
        return replace(problem, message=f"{problem.message} (write a list: [a, b] or one '- item' per line)")
    return problem


_UNKNOWN_KEY = re.compile(r"^unknown key '(.+?)' \(did you mean '(.+?)'\?\)")


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind(" "))
    return path[:cut] if cut >= 0 else ""


def _without_superseded(problems: list[Problem]) -> list[Problem]:
    """Drop "missing required key 'x'" where a misspelled key next to it already says
    "did you mean 'x'?": one mistake, one message."""
    meant = set()
    for p in problems:
        m = _UNKNOWN_KEY.match(p.message)
        if m:
            meant.add((p.file, _parent(p.path), m.group(2)))
    return [p for p in problems
            if not (p.message.startswith("missing required key '")
                    and (p.file, p.path, p.message.split("'")[1]) in meant)]


def _build(docs: Sequence[PackDoc], reg: Registries) -> PackSet:
    by_id = {pd.pack_id: pd for pd in docs if pd.pack_id is not None}
    params: dict[str, dict[str, Parameter]] = {}
    for pd in docs:
        pid = str(pd.pack_id)
        out: dict[str, Parameter] = {}
        for name, decl in pd.parameters().items():
            line, col = pd.doc.where(("pack", "parameters", name), key=True)
            out[name] = Parameter(pack=pid, name=name, type=decl["type"], items=decl.get("items"),
                                  default=decl["default"], value=decl["default"],
                                  description=decl.get("description", ""), position=(pd.doc.file, line, col))
        params[pid] = out

    def visible(pid: str) -> dict[str, Parameter]:
        found: dict[str, Parameter] = {}
        order: list[str] = []
        todo = [pid]
        while todo:
            cur = todo.pop(0)
            if cur in order or cur not in by_id:
                continue
            order.append(cur)
            todo.extend(x for _, x in by_id[cur].includes())
        for cur in order:
            for n, prm in params[cur].items():
                found.setdefault(n, prm)
        return found

    packs: list[Pack] = []
    for pd in docs:
        pid = str(pd.pack_id)
        meta = pd.meta
        vis = visible(pid)
        rules = tuple(_build_rule(pd, i, r, pid, vis) for i, r in pd.rules())
        packs.append(Pack(id=pid, version=str(meta["version"]), title=meta["title"],
                          description=meta["description"], file=pd.doc.file,
                          includes=tuple(meta.get("includes", ())),
                          parameters=MappingProxyType(params[pid]),
                          frameworks=tuple(meta.get("frameworks", ())), rules=rules, builtin=pd.builtin))
    return PackSet(tuple(packs), reg)


def _build_rule(pd: PackDoc, i: int, r: dict[str, Any], pid: str, vis: Mapping[str, Parameter]) -> Rule:
    doc = pd.doc
    base: PathKey = ("rules", i)
    positions: dict[str, tuple[int, int]] = {}
    for path, pos in doc.values.items():
        if path[:2] == base and len(path) > 2:
            positions[dotted(path[2:])] = pos
    refs: dict[str, tuple[str, str]] = {}
    each: Parameter | None = None
    if "for_each" in r:
        m = PARAM_REF.fullmatch(r["for_each"])
        each = vis[m.group(1)] if m else None
        sample, _ = for_each_item(r["for_each"], {n: ParamDecl(p.pack, n, p.type, p.items, p.value)
                                                  for n, p in vis.items()})
        if each is not None and sample is not None:
            vis = {**vis, ITEM: Parameter(pack=pid, name=ITEM, type=sample.type, items=None,
                                          default=sample.default, value=sample.default)}

    def cond(node: dict[str, Any], at: PathKey) -> Condition:
        where = dotted(at)
        for g in GROUP_KEYS:
            if g in node:
                if g == "not":
                    return Not(cond(node["not"], at + ("not",)), where)
                items = tuple(cond(c, at + (g, n)) for n, c in enumerate(node[g]))
                return AllOf(items, where) if g == "all" else AnyOf(items, where)
        op = next(k for k in node if k not in LEAF_KEYS)
        written = node[op]
        names = param_refs(written)
        bound = {n: vis[n].value for n in names}
        for n in names:
            if not (n == ITEM and each is not None):
                refs[n] = (vis[n].pack, n)
        return Leaf(attr=node["attr"], op=op, written=written, quantifier=node.get("quantifier", "any"),
                    path=where, bindings=MappingProxyType(bound))

    where_cond = cond(r["where"], ("where",)) if "where" in r else None
    check = cond(r["check"], ("check",))
    frameworks = {str(fw): tuple(doc.raw.get(base + ("frameworks", fw, n), str(c)) for n, c in enumerate(cs))
                  for fw, cs in r["frameworks"].items()}
    dep = r.get("deprecated")
    line, _ = doc.where(base)
    return Rule(id=r["id"], title=r["title"], severity=r["severity"], resource=r["resource"], check=check,
                message=r["message"], rationale=r["rationale"],
                remediation=MappingProxyType(dict(r["remediation"])), references=tuple(r["references"]),
                frameworks=MappingProxyType(frameworks), pack=pid, source=(doc.file, line), where=where_cond,
                deprecated=dep is not None, replaced_by=(dep or {}).get("replaced_by"),
                deprecation_reason=(dep or {}).get("reason", ""), params=MappingProxyType(refs),
                positions=MappingProxyType(positions),
                for_each=(each.pack, each.name) if each is not None else None,
                for_each_values=tuple(each.value) if each is not None else (),
                implements=tuple(r.get("implements", ())))


def packs_for_config(rule_packs: Sequence[str], parameters: Mapping[str, Mapping[str, Any]], *,
                     base_dir: Path, source: str = "<config>", profile: Profile | None = None) -> PackSet:
    """The packs an audit config asks for, with its profile's and its own parameter overrides.

    Each `rule_packs` entry is a built-in pack id, or a path (relative to `base_dir`) of a
    pack file or folder: an entry holding a slash or ending in .yaml/.yml, or naming an
    existing file or folder. Every pack loaded from a path is selected; so are the named
    ids and the profile's packs, with their includes. Without entries or profile, every
    built-in pack is selected. The profile's parameters apply first, then the config's;
    then the profile's severities."""
    from auditor.rules.profiles import profile_problems

    paths: list[Path] = []
    ids: list[tuple[int, str]] = []
    for i, entry in enumerate(rule_packs):
        candidate = base_dir / entry
        if "/" in entry or entry.endswith(PACK_SUFFIXES) or candidate.exists():
            paths.append(candidate)
        else:
            ids.append((i, entry))
    loaded = load_packs(paths)
    config = _reread(source)
    problems: list[Problem] = []
    for i, pid in ids:
        if pid not in loaded.pack_ids:
            msg = (f"unknown pack '{pid}'{did_you_mean(pid, loaded.pack_ids)}; built-in packs: "
                   f"{', '.join(p.id for p in loaded.packs if p.builtin) or 'none'} (or give a path to a pack file)")
            problems.append(config.problem(("rule_packs", i), msg) if config is not None
                            else Problem(source, 0, 0, f"rule_packs[{i}]", msg))
    if profile is not None:
        frameworks = tuple((loaded.registries or default_registries()).frameworks)
        problems += profile_problems(profile, loaded.pack_ids, tuple(loaded.rules_by_id), frameworks)
    if problems:
        raise InputError(problems)
    if rule_packs or profile is not None:
        wanted = ([p.id for p in loaded.packs if not p.builtin] + [pid for _, pid in ids]
                  + list(profile.packs if profile is not None else ()))
    else:
        wanted = [p.id for p in loaded.packs if p.builtin]
    selected = set(loaded.select(wanted).pack_ids)
    # Overrides may name any loaded pack (an included one too); then the selection is kept.
    overridden = loaded
    if profile is not None and profile.parameters:
        overridden = overridden.with_overrides(profile.parameters, config=profile.doc, file=profile.file)
    overridden = overridden.with_overrides(parameters, config=config, file=source)
    packs = tuple(p for p in overridden.packs if p.id in selected)
    if profile is not None and profile.severity:
        packs = tuple(replace(p, rules=tuple(replace(r, severity=profile.severity.get(r.id, r.severity))
                                             for r in p.rules)) for p in packs)
    return PackSet(packs, overridden.registries)
