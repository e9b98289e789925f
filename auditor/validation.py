"""Turn JSON-Schema errors into one clear `file:line:col path: message` problem each.

The schemas are published files (``auditor/schemas/*.schema.json``) so editors can use
them; this module only phrases their errors for people, with "did you mean" hints.
"""

from __future__ import annotations

import difflib
import json
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any
from collections.abc import Iterable

import jsonschema

from auditor.errors import Problem
from auditor.yamlpos import Located

_TYPE_NAMES = {
    "string": "a string", "integer": "a whole number", "number": "a number",
    "boolean": "true or false", "array": "a list", "object": "a mapping", "null": "nothing",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in ``auditor/schemas`` by file stem, e.g. ``audit-config``."""
    text = resources.files("auditor.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string",
            list: "list", dict: "mapping", type(None): "nothing"}.get(type(value), type(value).__name__)
    shown = json.dumps(value, default=str)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}" if kind not in ("list", "mapping", "nothing") else kind


def _phrase(err: jsonschema.ValidationError, doc: Located) -> list[Problem]:
    path = tuple(err.absolute_path)
    v = err.validator
    schema: dict[str, Any] = err.schema if isinstance(err.schema, dict) else {}
    instance: Any = err.instance
    value: Any = err.validator_value
    if v == "additionalProperties":
        allowed = [str(k) for k in schema.get("properties", {})]
        extra = [str(k) for k in instance if k not in schema.get("properties", {})]
        return [doc.problem(path + (k,), f"unknown key '{k}'{did_you_mean(k, allowed)}; "
                            f"allowed keys: {', '.join(allowed)}", key=True) for k in extra]
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return [doc.problem(path, f"missing required key '{missing}'")]
    if v == "type":
        want = value if isinstance(value, list) else [value]
        names = " or ".join(_TYPE_NAMES.get(str(w), str(w)) for w in want)
        return [doc.problem(path, f"expected {names}, got {_describe(instance)}")]
    if v == "enum":
        opts = [str(o) for o in value]
        return [doc.problem(path, f"'{instance}' is not one of: {', '.join(opts)}"
                            f"{did_you_mean(str(instance), opts)}")]
    if v == "const":
        return [doc.problem(path, f"must be {json.dumps(value)}, got {_describe(instance)}")]
    if v == "pattern":
        hint = schema.get("x-hint", f"must match {value}")
        return [doc.problem(path, f"'{instance}' is not valid: {hint}")]
    if v in ("minItems", "minLength"):
        return [doc.problem(path, "must not be empty")]
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [doc.problem(path, f"{instance} is out of range ({v} {value})")]
    if v == "uniqueItems":
        return [doc.problem(path, "has duplicate entries")]
    if v in ("oneOf", "anyOf"):
        hint = schema.get("x-hint")
        if hint:
            return [doc.problem(path, hint)]
        # Report the branch that got furthest: the best match jsonschema can find.
        best = jsonschema.exceptions.best_match(err.context) if err.context else None
        if best is not None and best is not err:
            return _phrase(best, doc)
    if v == "not":
        hint = value.get("x-hint") if isinstance(value, dict) else None
        return [doc.problem(path, hint or "this combination of keys is not allowed")]
    return [doc.problem(path, err.message)]


def schema_problems(schema_name: str, doc: Located) -> list[Problem]:
    """Every schema problem in `doc`, phrased for people, sorted by position."""
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    problems: list[Problem] = []
    for err in validator.iter_errors(doc.data):
        problems.extend(_phrase(err, doc))
    return sorted(set(problems))


def schema_view(data: Any) -> Any:
    """YAML data as JSON Schema sees it: YAML dates as ISO strings (each loader checks them
    precisely itself: waivers, responses, the config's assessor block)."""
    if isinstance(data, dict):
        return {k: schema_view(v) for k, v in data.items()}
    if isinstance(data, list):
        return [schema_view(v) for v in data]
    if isinstance(data, (date, datetime)):
        return data.isoformat()
    return data
