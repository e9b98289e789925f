"""CloudFormation's intrinsic functions and conditions, evaluated before deploy.

`Evaluator.resolve` turns a decoded value (`auditor.iac.cfn_yaml`) into plain data: every
function CloudFormation would compute from the template, its parameters, the region and the
account is computed here (Ref, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::FindInMap,
Fn::Base64, Fn::Cidr, Fn::Length, Fn::ToJsonString ...). What only a deployment tells (the
zones of Fn::GetAZs, another stack's Fn::ImportValue, most Fn::GetAtt attributes, a
parameter given no value) is an `Unknown` carrying why, and so is everything computed from
it. An unknown function, or a reference to a parameter, resource, condition or mapping that
does not exist, is a template problem: `Unknown(problem=True)`, also kept in `problems`; the
reader lists it and every field it feeds is unknown, never guessed and never dropped.

What references resolve to is the reader's business (a resource's id depends on its type):
it passes `ref` and `getatt` callables.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping

from auditor.iac.cfn_yaml import Map, Seq, line_of

__all__ = ["Unknown", "NO_VALUE", "Evaluator", "FUNCTIONS", "first_unknown", "is_function", "pseudo_parameters"]


@dataclass(frozen=True)
class Unknown:
    """A value the template does not determine before deploy, and why (naming the attribute,
    parameter or function). `problem`: the template itself is wrong here."""

    reason: str
    problem: bool = False


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


# ``Ref: AWS::NoValue``: the property (or list item) is removed, as if never written.
NO_VALUE: Any = _NoValue()

FUNCTIONS = frozenset({
    "Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::GetAZs", "Fn::If",
    "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Fn::FindInMap", "Fn::ImportValue", "Fn::Base64", "Fn::Cidr",
    "Fn::Length", "Fn::ToJsonString", "Fn::Transform", "Fn::ForEach",
})
_CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition")


def is_function(value: Any) -> str | None:
    """The function a one-key mapping calls (``Ref``, ``Fn::...``), else None."""
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
            return str(key)
    return None


def first_unknown(value: Any) -> Unknown | None:
    """The first `Unknown` in a resolved value (itself, or inside its lists and mappings)."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, dict):
        for v in value.values():
            found = first_unknown(v)
            if found is not None:
                return found
    elif isinstance(value, list):
        for v in value:
            found = first_unknown(v)
            if found is not None:
                return found
    return None


def pseudo_parameters(account: str, region: str, partition: str) -> dict[str, Any]:
    """AWS's pseudo parameters as known before deploy. The stack's own name, id and
    notification topics exist only once a stack is made from the template: unknown."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return {
        "AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition or "aws",
        "AWS::URLSuffix": suffix, "AWS::NoValue": NO_VALUE,
        "AWS::StackName": Unknown("known after deploy: AWS::StackName (the stack's name)"),
        "AWS::StackId": Unknown("known after deploy: AWS::StackId"),
        "AWS::NotificationARNs": Unknown("known after deploy: AWS::NotificationARNs"),
    }


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class Evaluator:
    """Resolves values of one template. `parameters`: each parameter's value (an `Unknown`
    when it has none), pseudo parameters included; `conditions`: the Conditions section;
    `ref(logical_id)` / `getatt(logical_id, attribute)`: what a resource's Ref and
    attributes are (None when the template has no such resource)."""

    def __init__(self, *, parameters: Mapping[str, Any], conditions: Mapping[str, Any], mappings: Mapping[str, Any],
                 ref: Callable[[str], Any | None], getatt: Callable[[str, str], Any | None]) -> None:
        self.parameters = dict(parameters)
        self.condition_defs = dict(conditions)
        self.mappings = mappings
        self.ref_of, self.getatt_of = ref, getatt
        self._conditions: dict[str, bool | Unknown] = {}
        self._evaluating: list[str] = []
        self.problems: list[tuple[str, int | None]] = []

    # -- problems ------------------------------------------------------------------------

    def problem(self, message: str, where: Any = None) -> Unknown:
        line = line_of(where)
        text = f"{message} (line {line})" if line else message
        self.problems.append((text, line))
        return Unknown(text, problem=True)

    def take_problems(self) -> list[tuple[str, int | None]]:
        """The problems found since the last call (then forgotten)."""
        out, self.problems = self.problems, []
        return out

    # -- conditions ----------------------------------------------------------------------

    def condition(self, name: Any, where: Any = None) -> bool | Unknown:
        """A named condition's value."""
        if not isinstance(name, str) or name not in self.condition_defs:
            defined = ", ".join(sorted(self.condition_defs)) or "none"
            return self.problem(f"condition {name!r} is not defined in Conditions (defined: {defined})", where)
        if name in self._conditions:
            return self._conditions[name]
        if name in self._evaluating:
            return self.problem(f"condition {name!r} refers to itself ({' -> '.join([*self._evaluating, name])})",
                                where)
        self._evaluating.append(name)
        try:
            value = self.truth(self.condition_defs[name], where=self.condition_defs[name])
        finally:
            self._evaluating.pop()
        self._conditions[name] = value
        return value

    def truth(self, value: Any, where: Any = None) -> bool | Unknown:
        """A condition expression's value (Fn::Equals/And/Or/Not, Condition)."""
        fn = is_function(value) or (next(iter(value)) if isinstance(value, dict) and len(value) == 1 else None)
        where = value if isinstance(value, Map) else where
        if fn == "Condition":
            return self.condition(value["Condition"], where)
        if fn not in _CONDITION_FUNCTIONS:
            return self.problem(f"a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition, "
                                f"not {fn or type(value).__name__}", where)
        args = value[fn]
        if fn == "Fn::Equals":
            if not isinstance(args, list) or len(args) != 2:
                return self.problem("Fn::Equals takes a list of two values", where)
            a, b = (self.resolve(x) for x in args)
            for side in (a, b):
                found = first_unknown(side)
                if found is not None:
                    return found
            return bool(_comparable(a) == _comparable(b))
        if fn == "Fn::Not":
            if not isinstance(args, list) or len(args) != 1:
                return self.problem("Fn::Not takes a list of one condition", where)
            inner = self.truth(args[0], where)
            return inner if isinstance(inner, Unknown) else not inner
        if not isinstance(args, list) or not 2 <= len(args) <= 10:
            return self.problem(f"{fn} takes a list of 2 to 10 conditions", where)
        values = [self.truth(a, where) for a in args]
        decisive = fn == "Fn::Or"      # Or: one true decides; And: one false decides
        if any(v is decisive for v in values):
            return decisive
        unknown = next((v for v in values if isinstance(v, Unknown)), None)
        return unknown if unknown is not None else not decisive

    # -- values --------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """The value with every function computed (`Unknown` where it cannot be, `NO_VALUE`
        removed from mappings and lists)."""
        fn = is_function(value)
        if fn is not None:
            return self._call(fn, value[fn], value)
        if isinstance(value, dict):
            out = Map(line_of(value, 0) or 0)
            if isinstance(value, Map):
                out.key_lines = dict(value.key_lines)
            for k, v in value.items():
                r = self.resolve(v)
                if r is not NO_VALUE:
                    out[k] = r
            return out
        if isinstance(value, list):
            return Seq(line_of(value, 0) or 0, [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE])
        return value

    def _call(self, fn: str, args: Any, where: Map) -> Any:
        handler = _HANDLERS.get(fn)
        if handler is None:
            if fn in ("Fn::Transform", "Fn::ForEach"):
                return self.problem(f"{fn} is a macro: process the template first (aws cloudformation package "
                                    "or deploy --dry-run, sam build)", where)
            return self.problem(f"unknown intrinsic function {fn}", where)
        result: Any = handler(self, args, where)
        return result

    def _ref(self, args: Any, where: Map) -> Any:
        if not isinstance(args, str):
            return self.problem(f"Ref takes a name, not {_show(args)}", where)
        if args in self.parameters:
            return self.parameters[args]
        found = self.ref_of(args)
        if found is None:
            return self.problem(f"Ref to {args!r}: no parameter, pseudo parameter or resource of that name", where)
        return found

    def _getatt_fn(self, args: Any, where: Map) -> Any:
        if isinstance(args, str):
            args = args.split(".", 1)
        if not isinstance(args, list) or len(args) != 2:
            return self.problem("Fn::GetAtt takes [LogicalId, Attribute]", where)
        logical, attr = self.resolve(args[0]), self.resolve(args[1])
        for part in (logical, attr):
            if isinstance(part, Unknown):
                return part
        if not isinstance(logical, str) or not isinstance(attr, str):
            return self.problem("Fn::GetAtt takes [LogicalId, Attribute] as names", where)
        found = self.getatt_of(logical, attr)
        if found is None:
            return self.problem(f"Fn::GetAtt of {logical!r}: no resource of that name", where)
        return found

    def _sub(self, args: Any, where: Map) -> Any:
        variables: dict[str, Any] = {}
        if isinstance(args, list):
            if len(args) != 2 or not isinstance(args[1], dict):
                return self.problem("Fn::Sub takes a string, or [string, {variables}]", where)
            text = self.resolve(args[0])
            for k, v in args[1].items():
                variables[str(k)] = self.resolve(v)
        else:
            text = self.resolve(args)
        if isinstance(text, Unknown):
            return text
        if not isinstance(text, str):
            return self.problem(f"Fn::Sub takes a string, not {_show(text)}", where)
        parts: list[str] = []
        pos = 0
        for m in _SUB_VAR.finditer(text):
            parts.append(text[pos:m.start()])
            pos = m.end()
            name = m.group(1)
            if name.startswith("!"):
                parts.append("${" + name[1:] + "}")   # ${!Literal} is the text ${Literal}
                continue
            name = name.strip()
            if name in variables:
                value = variables[name]
            elif name in self.parameters:
                value = self.parameters[name]
            elif "." in name:
                logical, attr = name.split(".", 1)
                value = self.getatt_of(logical, attr)
                if value is None:
                    return self.problem(f"Fn::Sub variable ${{{name}}}: no resource {logical!r}", where)
            else:
                value = self.ref_of(name)
                if value is None:
                    return self.problem(f"Fn::Sub variable ${{{name}}}: no parameter, pseudo parameter or "
                                        "resource of that name", where)
            found = first_unknown(value)
            if found is not None:
                return found
            if isinstance(value, list):
                return self.problem(f"Fn::Sub variable ${{{name}}} is a list, not a string", where)
            parts.append(_text(value))
        parts.append(text[pos:])
        return "".join(parts)

    def _join(self, args: Any, where: Map) -> Any:
        if not isinstance(args, list) or len(args) != 2:
            return self.problem("Fn::Join takes [delimiter, [values]]", where)
        delim, items = self.resolve(args[0]), self.resolve(args[1])
        for part in (delim, items):
            found = first_unknown(part)
            if found is not None:
                return found
        if not isinstance(delim, str) or not isinstance(items, list):
            return self.problem("Fn::Join takes [delimiter, [values]]", where)
        if any(isinstance(i, (list, dict)) for i in items):
            return self.problem("Fn::Join joins strings, not lists or mappings", where)
        return delim.join(_text(i) for i in items)

    def _select(self, args: Any, where: Map) -> Any:
        if not isinstance(args, list) or len(args) != 2:
            return self.problem("Fn::Select takes [index, [values]]", where)
        index, items = self.resolve(args[0]), self.resolve(args[1])
        for part in (index, items):
            if isinstance(part, Unknown):
                return part
        try:
            i = int(index)
        except (TypeError, ValueError):
            return self.problem(f"Fn::Select index {_show(index)} is not a number", where)
        if not isinstance(items, list):
            return self.problem(f"Fn::Select takes a list, not {_show(items)}", where)
        if not 0 <= i < len(items):
            return self.problem(f"Fn::Select index {i} is out of range (the list has {len(items)} values)", where)
        return items[i]

    def _split(self, args: Any, where: Map) -> Any:
        if not isinstance(args, list) or len(args) != 2:
            return self.problem("Fn::Split takes [delimiter, string]", where)
        delim, text = self.resolve(args[0]), self.resolve(args[1])
        for part in (delim, text):
            if isinstance(part, Unknown):
                return part
        if not isinstance(delim, str) or not delim or not isinstance(text, str):
            return self.problem("Fn::Split takes [delimiter, string]", where)
        return Seq(where.line, text.split(delim))

    def _getazs(self, args: Any, where: Map) -> Any:
        region = self.resolve(args)
        if isinstance(region, Unknown):
            return region
        shown = region or self.parameters.get("AWS::Region")
        return Unknown(f"known after deploy: Fn::GetAZs {shown} (the account's zone names; "
                       "give AvailabilityZone explicitly to know it before deploy)")

    def _if(self, args: Any, where: Map) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            return self.problem("Fn::If takes [condition, value if true, value if false]", where)
        truth = self.condition(args[0], where)
        if isinstance(truth, Unknown):
            return truth
        return self.resolve(args[1] if truth else args[2])

    def _findinmap(self, args: Any, where: Map) -> Any:
        if not isinstance(args, list) or len(args) not in (3, 4):
            return self.problem("Fn::FindInMap takes [map, top-level key, second-level key]", where)
        names = [self.resolve(a) for a in args[:3]]
        for part in names:
            if isinstance(part, Unknown):
                return part
        m, top, second = (_text(n) for n in names)
        table = self.mappings.get(m)
        if not isinstance(table, dict):
            return self.problem(f"Fn::FindInMap: no mapping {m!r} in Mappings", where)
        level = table.get(top)
        if not isinstance(level, dict) or second not in level:
            return self.problem(f"Fn::FindInMap: mapping {m!r} has no value for [{top!r}, {second!r}]", where)
        return self.resolve(level[second])

    def _importvalue(self, args: Any, where: Map) -> Any:
        name = self.resolve(args)
        shown = name.reason if isinstance(name, Unknown) else name
        return Unknown(f"known after deploy: Fn::ImportValue {shown} (another stack's export)")

    def _base64(self, args: Any, where: Map) -> Any:
        text = self.resolve(args)
        if isinstance(text, Unknown):
            return text
        if not isinstance(text, str):
            return self.problem(f"Fn::Base64 takes a string, not {_show(text)}", where)
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def _cidr(self, args: Any, where: Map) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            return self.problem("Fn::Cidr takes [ipBlock, count, cidrBits]", where)
        block, count, bits = (self.resolve(a) for a in args)
        for part in (block, count, bits):
            if isinstance(part, Unknown):
                return part
        try:
            net = ipaddress.ip_network(str(block), strict=False)
            n, b = int(count), int(bits)
        except (TypeError, ValueError) as exc:
            return self.problem(f"Fn::Cidr: {exc}", where)
        prefix = net.max_prefixlen - b
        if not 1 <= n <= 256 or b < 0 or prefix < net.prefixlen:
            return self.problem(f"Fn::Cidr: cannot make {n} blocks of {b} host bits in {net}", where)
        out: list[str] = []
        for sub in net.subnets(new_prefix=prefix):
            if len(out) == n:
                break
            out.append(str(sub))
        if len(out) < n:
            return self.problem(f"Fn::Cidr: {net} holds {len(out)} block(s) of {b} host bits, not {n}", where)
        return Seq(where.line, out)

    def _length(self, args: Any, where: Map) -> Any:
        items = self.resolve(args)
        if isinstance(items, Unknown):
            return items
        if not isinstance(items, list):
            return self.problem(f"Fn::Length takes a list, not {_show(items)}", where)
        return len(items)

    def _tojson(self, args: Any, where: Map) -> Any:
        value = self.resolve(args)
        found = first_unknown(value)
        if found is not None:
            return found
        return json.dumps(value, separators=(",", ":"), default=str)


_HANDLERS: dict[str, Callable[[Evaluator, Any, Map], Any]] = {
    "Ref": Evaluator._ref, "Fn::GetAtt": Evaluator._getatt_fn, "Fn::Sub": Evaluator._sub,
    "Fn::Join": Evaluator._join, "Fn::Select": Evaluator._select, "Fn::Split": Evaluator._split,
    "Fn::GetAZs": Evaluator._getazs, "Fn::If": Evaluator._if, "Fn::FindInMap": Evaluator._findinmap,
    "Fn::ImportValue": Evaluator._importvalue, "Fn::Base64": Evaluator._base64, "Fn::Cidr": Evaluator._cidr,
    "Fn::Length": Evaluator._length, "Fn::ToJsonString": Evaluator._tojson,
}


def _text(value: Any) -> str:
    """A scalar as CloudFormation writes it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _comparable(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return _text(value) if value is not None else ""
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
