"""Semantic checks of rule packs: everything the JSON Schema cannot say.

The schema (``auditor/schemas/rule-pack.schema.json``) checks shapes and types. Here we
check meaning, across every loaded pack at once: unique pack and rule ids, includes that
exist and do not loop, typed parameters, known resource types, attribute paths, operators
and their arguments, ``${param}`` references, message fields, framework controls and
deprecation targets. Every problem is returned, none stops the others; nothing runs while
any is left.

The registries (operators, attribute paths, framework catalogues) are passed in as a
`Registries`; `default_registries()` imports the real ones lazily.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from auditor.errors import Problem
from auditor.validation import did_you_mean
from auditor.yamlpos import Located, PathKey, dotted

PARAM_TYPES = ("string", "integer", "number", "boolean", "list")
ITEM_TYPES = ("string", "integer", "number", "boolean")
GROUP_KEYS = ("all", "any", "not")
FORM_KEYS = GROUP_KEYS + ("attr",)
LEAF_KEYS = ("attr", "quantifier")
RULE_ID = re.compile(r"^[A-Z]{2,5}-[0-9]{3}$")
PARAM_REF = re.compile(r"\$\{([^}]*)\}")
PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
USER_PREFIX = "USR-"
CONDITION_FORMS = "{all: [...]}, {any: [...]}, {not: CONDITION} or {attr: PATH, OPERATOR: ARGUMENT}"


# -- registries ------------------------------------------------------------------------

class OperatorLike(Protocol):
    """What the checks need of an operator (auditor/rules/operators.py)."""

    @property
    def name(self) -> str: ...

    @property
    def arg_kind(self) -> str: ...

    def check_arg(self, arg: Any) -> str | None: ...


@dataclass(frozen=True)
class Registries:
    """Everything pack checking looks names up in."""

    operators: Mapping[str, OperatorLike]
    resource_types: Collection[str]
    is_known_path: Callable[[str, str], bool]            # (resource type, path)
    suggest_path: Callable[[str, str], str | None]       # (resource type, path) -> close path
    frameworks: Collection[str]                          # known framework ids
    control_exists: Callable[[str, str], bool]           # (framework, control)
    suggest_control: Callable[[str, str], str | None]    # (framework, control) -> close control
    attribute_paths: Callable[[str], Iterable[str]] = lambda resource_type: ()  # listed when no close match
    catalogue_checks: Collection[str] = ()               # NET-... ids a rule may implement (empty: unchecked)
    # (built-in rule id, its citations) -> how they differ from the mapping review table; None: unchecked
    review_citations: Callable[[str, Mapping[str, list[str]]], list[str]] | None = None
    retired_framework: Callable[[str], str | None] = lambda framework: None   # its error message, or None


@lru_cache(maxsize=1)
def default_registries() -> Registries:
    """The real registries (imported on first use)."""
    from auditor.model.types import RESOURCE_TYPES
    from auditor.rules import attributes, frameworks, mapping_review, operators

    catalogues = frameworks.load_catalogues()
    return Registries(
        operators=operators.OPERATORS,
        resource_types=tuple(RESOURCE_TYPES),
        is_known_path=attributes.is_known_path,
        suggest_path=attributes.suggest,
        frameworks=tuple(catalogues),
        control_exists=lambda fw, control: bool(frameworks.control_exists(catalogues, fw, control)),
        suggest_control=lambda fw, control: _quoted(frameworks.suggest_control(catalogues, fw, control)),
        attribute_paths=attributes.attribute_paths,
        catalogue_checks=frameworks.load_authority().check_ids,
        review_citations=lambda rule, cited: mapping_review.citation_problems(rule, cited),
        retired_framework=mapping_review.retired_problem,
    )


def _quoted(hint: str | None) -> str | None:
    """``x`` from a `` (did you mean 'x'?)`` hint; None for no hint."""
    m = re.search(r"'(.*)'", hint or "")
    return m.group(1) if m else None


# -- the documents being checked -------------------------------------------------------

@dataclass
class PackDoc:
    """One parsed pack file (already known to be a mapping)."""

    doc: Located
    builtin: bool = False

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.doc.data
        return data

    @property
    def meta(self) -> dict[str, Any]:
        meta = self.data.get("pack")
        return meta if isinstance(meta, dict) else {}

    @property
    def pack_id(self) -> str | None:
        pid = self.meta.get("id")
        return pid if isinstance(pid, str) else None

    def rules(self) -> list[tuple[int, dict[str, Any]]]:
        rules = self.data.get("rules")
        if not isinstance(rules, list):
            return []
        return [(i, r) for i, r in enumerate(rules) if isinstance(r, dict)]

    def includes(self) -> list[tuple[int, str]]:
        inc = self.meta.get("includes")
        if not isinstance(inc, list):
            return []
        return [(i, x) for i, x in enumerate(inc) if isinstance(x, str)]

    def parameters(self) -> dict[str, Any]:
        params = self.meta.get("parameters")
        return params if isinstance(params, dict) else {}


def rule_label(rule: Mapping[str, Any], index: int) -> str:
    """How a rule is named in problem paths: its id, else its position."""
    rid = rule.get("id")
    return rid if isinstance(rid, str) and rid else f"rules[{index}]"


def rule_problem(pd: PackDoc, index: int, sub: PathKey, message: str, *, key: bool = False) -> Problem:
    """A problem inside rule `index`, its path written ``RULE-ID key.path``."""
    rules = pd.data.get("rules")
    rule = rules[index] if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict) else {}
    line, col = pd.doc.where(("rules", index) + tuple(sub), key=key)
    label = rule_label(rule, index)
    inner = dotted(tuple(sub))
    return Problem(pd.doc.file, line, col, f"{label} {inner}" if inner else label, message)


def relabel(pd: PackDoc, problem: Problem) -> Problem:
    """Rewrite a schema problem's ``rules[3].check...`` path as ``PN-001 check...``."""
    m = re.match(r"^rules\[(\d+)\](?:\.(.*))?$", problem.path)
    if not m:
        return problem
    index = int(m.group(1))
    rules = pd.data.get("rules")
    if not (isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict)):
        return problem
    label = rule_label(rules[index], index)
    rest = m.group(2)
    return Problem(problem.file, problem.line, problem.col, f"{label} {rest}" if rest else label,
                   problem.message)


# -- parameters ------------------------------------------------------------------------

def type_error(value: Any, type_name: str, items: str | None = None) -> str | None:
    """Why `value` is not of parameter type `type_name` (list of `items`), or None."""
    def scalar_ok(v: Any, t: str) -> bool:
        if t == "string":
            return isinstance(v, str)
        if t == "boolean":
            return isinstance(v, bool)
        if t == "integer":
            return isinstance(v, int) and not isinstance(v, bool)
        if t == "number":
            return isinstance(v, (int, float)) and not isinstance(v, bool)
        return True

    if type_name == "list":
        if not isinstance(value, (list, tuple)):
            return f"expected a list, got {describe(value)}"
        if items:
            for n, v in enumerate(value):
                if not scalar_ok(v, items):
                    return f"item [{n}] should be {article(items)}, got {describe(v)}"
        return None
    if not scalar_ok(value, type_name):
        return f"expected {article(type_name)}, got {describe(value)}"
    return None


def article(type_name: str) -> str:
    return {"string": "a string", "integer": "an integer", "number": "a number",
            "boolean": "true or false", "list": "a list"}.get(type_name, type_name)


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string '{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return type(value).__name__


@dataclass(frozen=True)
class ParamDecl:
    """A parameter declaration that passed its own checks."""

    pack: str
    name: str
    type: str
    items: str | None
    default: Any


def check_parameters(pd: PackDoc) -> tuple[dict[str, ParamDecl], list[Problem]]:
    """Typed declarations of one pack (the valid ones) and the problems of the others."""
    out: dict[str, ParamDecl] = {}
    problems: list[Problem] = []
    pid = pd.pack_id or "?"
    for name, decl in pd.parameters().items():
        if not isinstance(name, str) or not isinstance(decl, dict):
            continue
        base: PathKey = ("pack", "parameters", name)
        ptype, items = decl.get("type"), decl.get("items")
        if ptype not in PARAM_TYPES or (items is not None and items not in ITEM_TYPES):
            continue  # the schema reports it
        if items is not None and ptype != "list":
            problems.append(pd.doc.problem(base + ("items",), f"'items' applies only to list parameters "
                                           f"(this one is {ptype}); remove it or use type: list", key=True))
            continue
        if "default" not in decl:
            continue  # the schema reports it
        err = type_error(decl["default"], ptype, items)
        if err:
            problems.append(pd.doc.problem(base + ("default",), f"default does not match type {ptype}"
                                           f"{' of ' + items if items else ''}: {err}"))
            continue
        out[name] = ParamDecl(pid, name, ptype, items, decl["default"])
    return out, problems


ITEM = "item"   # ${item}: the element of a for_each rule
_SAMPLES: dict[str, Any] = {"string": "x", "integer": 0, "number": 0, "boolean": False}


def for_each_item(written: str, visible: Mapping[str, ParamDecl]) -> tuple[ParamDecl | None, str | None]:
    """The pseudo-parameter ``${item}`` of a rule with ``for_each: "${name}"``, typed as the
    list's elements (its sample value is the list's first default element), and the problem
    with `written`, if any."""
    m = PARAM_REF.fullmatch(written)
    name = m.group(1) if m else None
    decl = visible.get(name) if name else None
    if decl is None:
        declared = sorted(n for n, d in visible.items() if d.type == "list")
        close = did_you_mean(name or written, declared)
        return None, (f"for_each names unknown list parameter '{written}'{close}; write \"${{NAME}}\" with a "
                      f"declared list parameter (declared lists: {', '.join(declared) or 'none'})")
    if decl.type != "list":
        return None, f"for_each needs a list parameter; '{name}' is {decl.type}"
    items = decl.items or "string"
    default = decl.default[0] if isinstance(decl.default, list) and decl.default else _SAMPLES[items]
    return ParamDecl(decl.pack, ITEM, items, None, default), None


def param_refs(arg: Any) -> list[str]:
    """Names of the ``${param}`` references in an argument (strings, lists of strings)."""
    if isinstance(arg, str):
        return PARAM_REF.findall(arg)
    if isinstance(arg, list):
        return [name for item in arg for name in param_refs(item)]
    return []


def _text(name: str, value: Any) -> str:
    """A parameter's value as text inside a longer string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"parameter '{name}' is {type(value).__name__}: it can only be used as a whole "
                     f"argument (\"${{{name}}}\"), not inside a string")


def substitute(arg: Any, values: Mapping[str, Any]) -> Any:
    """The argument as written with its ``${param}`` references replaced by `values`: a
    whole-string reference by the parameter's value (its type kept), a reference inside a
    longer string by its text; recursively inside lists.

    The one substitution of the condition language. It runs when a pack loads: on a leaf's
    written argument when the leaf is bound (`auditor.rules.packs.Leaf`, whose ``arg`` is
    this function's result), and here, on the declared defaults, to check an argument before
    the tree is built. Raises ValueError for a name `values` lacks, or a list (or mapping)
    inside a string: the pack checks refuse both first, so that is a bug, not a bad pack."""
    if isinstance(arg, str):
        def value(name: str) -> Any:
            if name not in values:
                known = ", ".join(sorted(values)) or "none"
                raise ValueError(f"unknown parameter '${{{name}}}' (parameters: {known})")
            return values[name]

        whole = PARAM_REF.fullmatch(arg)
        if whole:
            return value(whole.group(1))
        return PARAM_REF.sub(lambda m: _text(m.group(1), value(m.group(1))), arg)
    if isinstance(arg, (list, tuple)):
        return [substitute(item, values) for item in arg]
    return arg


def message_fields(message: str) -> list[tuple[str, str | None]]:
    """The ``{field}`` names of a message template with the problem of each (None when fine).

    Raises ValueError for unbalanced braces."""
    out: list[tuple[str, str | None]] = []
    for _, name, spec, conversion in string.Formatter().parse(message):
        if name is None:
            continue
        if spec or conversion:
            out.append((name, f"write the field as {{{name}}}, without a format spec or conversion"))
        else:
            out.append((name, None))
    return out


# -- the checker -----------------------------------------------------------------------

@dataclass
class _Context:
    reg: Registries
    docs: Sequence[PackDoc]
    by_id: dict[str, PackDoc] = field(default_factory=dict)
    params: dict[str, dict[str, ParamDecl]] = field(default_factory=dict)  # pack id -> declared
    rule_ids: set[str] = field(default_factory=set)
    broken_includes: set[str] = field(default_factory=set)  # packs with an include that is not loaded

    def include_closure(self, pack_id: str) -> list[str]:
        """The pack and every pack it includes, transitively, in include order."""
        seen: list[str] = []
        todo = [pack_id]
        while todo:
            pid = todo.pop(0)
            if pid in seen or pid not in self.by_id:
                continue
            seen.append(pid)
            todo.extend(x for _, x in self.by_id[pid].includes())
        return seen

    def visible_params(self, pack_id: str | None) -> dict[str, ParamDecl]:
        """Parameters a pack's rules may use: its own, then those of included packs."""
        if pack_id is None:
            return {}
        out: dict[str, ParamDecl] = {}
        for pid in self.include_closure(pack_id):
            for name, decl in self.params.get(pid, {}).items():
                out.setdefault(name, decl)
        return out


def check_packs(docs: Sequence[PackDoc], registries: Registries | None = None) -> list[Problem]:
    """Every semantic problem of the packs, checked together (ids and includes span packs)."""
    ctx = _Context(reg=registries or default_registries(), docs=docs)
    problems: list[Problem] = []
    # Pack ids unique; includes known and acyclic.
    for pd in docs:
        pid = pd.pack_id
        if pid is None:
            continue
        if pid in ctx.by_id:
            first = ctx.by_id[pid].doc
            line, _ = first.where(("pack", "id"))
            problems.append(pd.doc.problem(("pack", "id"), f"pack id '{pid}' is already used by "
                                           f"{first.file}:{line}; pack ids must be unique"))
            continue
        ctx.by_id[pid] = pd
    for pd in docs:
        problems += _check_includes(pd, ctx)
    # Parameters.
    for pd in docs:
        decls, found = check_parameters(pd)
        problems += found
        if pd.pack_id is not None and ctx.by_id.get(pd.pack_id) is pd:
            ctx.params[pd.pack_id] = decls
    # Rule ids unique across every loaded pack.
    first_at: dict[str, tuple[PackDoc, int]] = {}
    for pd in docs:
        for i, rule in pd.rules():
            rid = rule.get("id")
            if not isinstance(rid, str) or not RULE_ID.match(rid):
                continue
            ctx.rule_ids.add(rid)
            if rid in first_at:
                other, j = first_at[rid]
                line, col = other.doc.where(("rules", j, "id"))
                problems.append(rule_problem(pd, i, ("id",), f"duplicate rule id {rid}: already defined at "
                                             f"{other.doc.file}:{line}:{col}; give this rule a new id "
                                             f"(ids are never reused)"))
            else:
                first_at[rid] = (pd, i)
            if pd.builtin and rid.startswith(USER_PREFIX):
                problems.append(rule_problem(pd, i, ("id",), f"{USER_PREFIX}xxx ids are reserved for users' "
                                             "own packs; built-in rules use another prefix"))
    for pd in docs:
        problems += check_pack(pd, ctx)
    return problems


def _check_includes(pd: PackDoc, ctx: _Context) -> list[Problem]:
    problems: list[Problem] = []
    for i, inc in pd.includes():
        where: PathKey = ("pack", "includes", i)
        if inc not in ctx.by_id:
            if pd.pack_id is not None:
                ctx.broken_includes.add(pd.pack_id)
            problems.append(pd.doc.problem(where, f"unknown pack '{inc}'{did_you_mean(inc, ctx.by_id)}; "
                                           f"loaded packs: {some_names(sorted(ctx.by_id))} (load the pack that "
                                           "defines it too, or remove the include)"))
            continue
        # A cycle: the included pack leads back to this one.
        chain = _path_to(inc, pd.pack_id, ctx)
        if chain is not None:
            loop = " -> ".join([pd.pack_id or "?"] + chain)
            problems.append(pd.doc.problem(where, f"include cycle: {loop}; remove one of these includes"))
    return problems


def some_names(names: Sequence[str], limit: int = 10) -> str:
    """``a, b, c and 7 more``: a list of names kept short for a message."""
    if not names:
        return "none"
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _path_to(start: str, goal: str | None, ctx: _Context) -> list[str] | None:
    """The include chain from `start` to `goal` (inclusive), or None."""
    if goal is None:
        return None
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        pid, chain = stack.pop()
        if pid == goal:
            return chain
        if pid in seen or pid not in ctx.by_id:
            continue
        seen.add(pid)
        for _, nxt in reversed(ctx.by_id[pid].includes()):
            stack.append((nxt, chain + [nxt]))
    return None


def check_pack(pd: PackDoc, ctx: _Context) -> list[Problem]:
    """The semantic problems of one pack's own content (pack frameworks and rules)."""
    problems: list[Problem] = []
    reg = ctx.reg
    fws = pd.meta.get("frameworks")
    if isinstance(fws, list):
        for i, fw in enumerate(fws):
            if isinstance(fw, str) and fw not in reg.frameworks:
                problems.append(pd.doc.problem(("pack", "frameworks", i), _unknown_framework(fw, reg)))
    visible = ctx.visible_params(pd.pack_id)
    # With an include missing, an unknown ${param} may be declared there: only the include is reported.
    lenient = any(pid in ctx.broken_includes for pid in ctx.include_closure(pd.pack_id or ""))
    for i, rule in pd.rules():
        problems += _check_rule(pd, i, rule, ctx, visible, lenient)
    return problems


def _unknown_framework(fw: str, reg: Registries) -> str:
    retired = reg.retired_framework(fw)
    if retired is not None:
        return retired
    known = ", ".join(sorted(reg.frameworks)) or "none"
    return f"unknown framework '{fw}'{did_you_mean(fw, reg.frameworks)}; known frameworks: {known}"


def _check_rule(pd: PackDoc, i: int, rule: dict[str, Any], ctx: _Context,
                visible: Mapping[str, ParamDecl], lenient: bool = False) -> list[Problem]:
    reg = ctx.reg
    problems: list[Problem] = []
    resource = rule.get("resource")
    rtype: str | None = None
    if isinstance(resource, str):
        if resource in reg.resource_types:
            rtype = resource
        else:
            problems.append(rule_problem(pd, i, ("resource",), f"unknown resource type '{resource}'"
                                         f"{did_you_mean(resource, reg.resource_types)}; see docs/model.md "
                                         "for the resource types"))
    each = rule.get("for_each")
    if isinstance(each, str):
        item, issue = for_each_item(each, visible)
        if issue and not (lenient and item is None and PARAM_REF.fullmatch(each)):
            problems.append(rule_problem(pd, i, ("for_each",), issue))
        # A broken for_each is reported once: its ${item} uses are not reported again.
        visible = {**visible, ITEM: item or ParamDecl(pd.pack_id or "?", ITEM, "string", None, "x")}
    for part in ("where", "check"):
        if part in rule:
            problems += _check_condition(pd, i, (part,), rule[part], rtype, ctx, visible, lenient)
    message = rule.get("message")
    if isinstance(message, str):
        problems += _check_message(pd, i, message, rtype, reg, item_field=isinstance(each, str))
    implements = rule.get("implements")
    if isinstance(implements, list) and reg.catalogue_checks:
        for n, check_id in enumerate(implements):
            if isinstance(check_id, str) and check_id not in reg.catalogue_checks:
                problems.append(rule_problem(pd, i, ("implements", n), f"'{check_id}' is not a check of the "
                                             f"network-control catalogue{did_you_mean(check_id, reg.catalogue_checks)}"
                                             "; see rules/frameworks/authority.yaml"))
    fmap = rule.get("frameworks")
    if isinstance(fmap, dict):
        for fw, controls in fmap.items():
            fw_s = str(fw)
            if fw_s not in reg.frameworks:
                problems.append(rule_problem(pd, i, ("frameworks", fw), _unknown_framework(fw_s, reg), key=True))
                continue
            if not isinstance(controls, list):
                continue
            for n, control in enumerate(controls):
                if isinstance(control, bool) or not isinstance(control, (str, int, float)):
                    continue
                text = pd.doc.raw.get(("rules", i, "frameworks", fw, n), str(control))
                if not reg.control_exists(fw_s, text):
                    close = reg.suggest_control(fw_s, text)
                    hint = f" (did you mean '{close}'?)" if close else ""
                    problems.append(rule_problem(pd, i, ("frameworks", fw, n),
                                                 f"control '{text}' does not exist in framework {fw_s}{hint}; "
                                                 f"see rules/frameworks/{fw_s}.yaml"))
    if pd.builtin and reg.review_citations is not None and isinstance(fmap, dict) and isinstance(rule.get("id"), str):
        cited = {str(fw): [pd.doc.raw.get(("rules", i, "frameworks", fw, n), str(c)) for n, c in enumerate(cs)]
                 for fw, cs in fmap.items() if isinstance(cs, list)}
        for message in reg.review_citations(rule["id"], cited):
            problems.append(rule_problem(pd, i, ("frameworks",), message))
    dep = rule.get("deprecated")
    if isinstance(dep, dict):
        target = dep.get("replaced_by")
        if isinstance(target, str) and RULE_ID.match(target):
            if target == rule.get("id"):
                problems.append(rule_problem(pd, i, ("deprecated", "replaced_by"),
                                             "a rule cannot be replaced by itself"))
            elif target not in ctx.rule_ids:
                problems.append(rule_problem(pd, i, ("deprecated", "replaced_by"),
                                             f"replaced_by names rule {target}, which no loaded pack defines"
                                             f"{did_you_mean(target, ctx.rule_ids - {rule.get('id')})}"))
    return problems


def _check_message(pd: PackDoc, i: int, message: str, rtype: str | None, reg: Registries, *,
                   item_field: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    try:
        fields = message_fields(message)
    except ValueError as exc:
        return [rule_problem(pd, i, ("message",), f"bad message template: {exc} (write a literal brace as "
                             "{{ or }})")]
    for name, issue in fields:
        if issue:
            problems.append(rule_problem(pd, i, ("message",), issue))
        elif not name:
            problems.append(rule_problem(pd, i, ("message",), "empty {} field: name an attribute path, e.g. {id}"))
        elif name == ITEM and item_field:
            continue
        elif name == ITEM and rtype is not None and not reg.is_known_path(rtype, name):
            problems.append(rule_problem(pd, i, ("message",), f"message field {{{ITEM}}} is the element of a rule "
                                         f"with for_each: \"${{LIST_PARAMETER}}\"; this rule has no for_each"))
        elif rtype is not None and not reg.is_known_path(rtype, name):
            problems.append(rule_problem(pd, i, ("message",), _unknown_path(f"message field {{{name}}}", name,
                                                                            rtype, reg)))
    return problems


def _unknown_path(what: str, path: str, rtype: str, reg: Registries) -> str:
    """`what` (a prefix, may be empty) says which '`path`' is not an attribute path, and what is."""
    text = f"{what}: '{path}'" if what else f"'{path}'"
    close = reg.suggest_path(rtype, path)
    if close:
        return f"{text} is not an attribute path of {rtype} (did you mean '{close}'?)"
    names = sorted({p.split(".")[0].split("[")[0] for p in reg.attribute_paths(rtype)})
    listing = ", ".join(names[:15]) + (", ..." if len(names) > 15 else "")
    return f"{text} is not an attribute path of {rtype}" + (f"; its attributes: {listing}" if names else "")


def _check_condition(pd: PackDoc, i: int, at: PathKey, node: Any, rtype: str | None, ctx: _Context,
                     visible: Mapping[str, ParamDecl], lenient: bool = False) -> list[Problem]:
    if not isinstance(node, dict):
        return []  # the schema reports it
    problems: list[Problem] = []
    reg = ctx.reg
    forms = [k for k in FORM_KEYS if k in node]
    if len(forms) > 1:
        return [rule_problem(pd, i, at, f"a condition is exactly one of {CONDITION_FORMS}; this one has "
                             f"{' and '.join(forms)}; split it, e.g. into {{all: [...]}}")]
    if not forms:
        ops = [k for k in node if k in reg.operators]
        if ops:
            problems.append(rule_problem(pd, i, at, f"missing key 'attr': name the attribute path that "
                                         f"'{ops[0]}' tests, e.g. {{attr: id, {ops[0]}: ...}}"))
        elif not node:
            problems.append(rule_problem(pd, i, at, f"empty condition: write {CONDITION_FORMS}"))
        for k in node:
            if k in reg.operators or k == "quantifier":
                continue
            problems.append(rule_problem(pd, i, at + (k,), f"unknown key '{k}'"
                                         f"{did_you_mean(str(k), FORM_KEYS)}; a condition is {CONDITION_FORMS}",
                                         key=True))
        return problems
    form = forms[0]
    if form in GROUP_KEYS:
        for k in node:
            if k != form:
                problems.append(rule_problem(pd, i, at + (k,), f"unexpected key '{k}' in a {{{form}: ...}} "
                                             f"condition; it takes only '{form}'", key=True))
        children = node[form]
        if form == "not":
            problems += _check_condition(pd, i, at + ("not",), children, rtype, ctx, visible, lenient)
        elif isinstance(children, list):
            for n, child in enumerate(children):
                problems += _check_condition(pd, i, at + (form, n), child, rtype, ctx, visible, lenient)
        return problems
    return _check_leaf(pd, i, at, node, rtype, ctx, visible, lenient)


def _check_leaf(pd: PackDoc, i: int, at: PathKey, node: dict[str, Any], rtype: str | None, ctx: _Context,
                visible: Mapping[str, ParamDecl], lenient: bool = False) -> list[Problem]:
    reg = ctx.reg
    problems: list[Problem] = []
    attr = node.get("attr")
    if isinstance(attr, str) and attr:
        if rtype is not None and not reg.is_known_path(rtype, attr):
            problems.append(rule_problem(pd, i, at + ("attr",), _unknown_path("", attr, rtype, reg)))
        if "quantifier" in node and "[*]" not in attr:
            problems.append(rule_problem(pd, i, at + ("quantifier",), "quantifier applies only to a path with "
                                         f"[*] (one value per list element); '{attr}' has none; remove it",
                                         key=True))
    known = [k for k in node if k not in LEAF_KEYS and k in reg.operators]
    unknown = [k for k in node if k not in LEAF_KEYS and k not in reg.operators]
    for k in unknown:
        hint = did_you_mean(str(k), list(reg.operators) + list(LEAF_KEYS))
        problems.append(rule_problem(pd, i, at + (k,), f"unknown operator '{k}'"
                                     f"{hint or '; operators: ' + ', '.join(reg.operators)}", key=True))
    if len(known) > 1:
        problems.append(rule_problem(pd, i, at + (known[1],), f"a leaf has exactly one operator, this one has "
                                     f"{len(known)} ({', '.join(known)}); combine leaves with "
                                     f"{{all: [{{attr: ..., {known[0]}: ...}}, {{attr: ..., {known[1]}: ...}}]}}",
                                     key=True))
        return problems
    if not known:
        if not unknown:
            problems.append(rule_problem(pd, i, at, f"missing operator: add one of {', '.join(reg.operators)}, "
                                         "e.g. {attr: PATH, eq: VALUE}"))
        return problems
    op_name = known[0]
    op = reg.operators[op_name]
    arg = node[op_name]
    where = at + (op_name,)
    refs = param_refs(arg)
    values: dict[str, Any] = {}
    bad_ref = False
    for name in refs:
        decl = visible.get(name)
        if not PARAM_NAME.match(name):
            problems.append(rule_problem(pd, i, where, f"'${{{name}}}' is not a parameter reference: "
                                         "write ${name} with a declared parameter name"))
            bad_ref = True
        elif decl is None and lenient:
            bad_ref = True
        elif decl is None:
            declared = sorted(visible)
            hint = (f"; ${{{ITEM}}} is the element of a rule with for_each: \"${{LIST_PARAMETER}}\"" if name == ITEM
                    else f"{did_you_mean(name, declared)}; declare it under pack.parameters "
                         f"(declared: {', '.join(declared) or 'none'})")
            problems.append(rule_problem(pd, i, where, f"unknown parameter '${{{name}}}'{hint}"))
            bad_ref = True
        else:
            values[name] = decl.default
            embedded = not (isinstance(arg, str) and PARAM_REF.fullmatch(arg))
            if embedded and decl.type == "list":
                problems.append(rule_problem(pd, i, where, f"parameter '{name}' is a list: use it as the whole "
                                             f"argument ({op_name}: \"${{{name}}}\"), not inside a string or list"))
                bad_ref = True
    if bad_ref:
        return problems
    err = op.check_arg(substitute(arg, values))
    if err:
        if refs:
            shown = ", ".join(f"'{n}' ({visible[n].type}, default {_show(visible[n].default)})" for n in refs)
            problems.append(rule_problem(pd, i, where, f"parameter {shown} does not suit '{op_name}': {err}"))
        else:
            problems.append(rule_problem(pd, i, where, err))
    return problems


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)

