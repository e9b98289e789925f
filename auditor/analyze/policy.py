"""The endpoint-policy analyzer: parse an IAM policy, then say whom, what and where it lets through.

A VPC endpoint policy is the most a request through the endpoint may do: AWS allows a request
only when some Allow statement matches it and no Deny statement does (docs/endpoint-policies.md).
This module answers, for one policy:

- `parse_policy(document)`: the policy in every shape IAM accepts (Statement an object or a
  list; Action/NotAction, Resource/NotResource, Principal/NotPrincipal as a string, a list or,
  for principals, a map of AWS/Service/Federated/CanonicalUser; conditions with IfExists and
  ForAnyValue:/ForAllValues:). Anything else raises `PolicyError` naming what is wrong; no
  input makes it raise anything else.
- `analyze(policy)`: a `PolicyAnalysis`: whether the policy is AWS's default full access,
  which principals, actions and resources it lets through, and what it could not model.
- `find_outside(policy, allowlist)`: a request the policy allows outside an `Allowlist` of
  principals, actions and resources, written as a counter-example
  (``sqs:DeleteQueue by any principal on any resource``), or None when there is none.

How it decides. A request is a principal (kind, account, organisation, ARN, service name), an
action and a resource (ARN, owning account and organisation). The policy can only tell apart
the values it (or the allowlist) names, so the analyzer builds a finite `Universe` of
candidate requests: every named value, instances of every wildcard pattern, and for each
dimension one value that nothing names (a made-up account in a made-up organisation: "any
principal"). Each candidate is matched against every statement once; requests whose
candidates match the same statements are decided together. Within one statement the
Principal element and the conditions on aws:PrincipalOrgID, aws:PrincipalAccount,
aws:PrincipalArn, aws:PrincipalIsAWSService and aws:PrincipalServiceName constrain the
principal; Resource and aws:ResourceAccount, aws:ResourceOrgID (and s3:ResourceAccount) the
resource; Action the action. Wildcard actions expand against the IAM action catalogue
(`auditor.analyze.iam_actions`).

Conditions on any other key (tags, aws:SourceVpc, policy variables ...) are *unmodelled*
and reported. The analysis is conservative in the direction of allowing: an unmodelled
condition in an Allow statement is assumed to hold, and a Deny statement with one is assumed
not to apply ("upper" mode). Whether the policy is AWS's default is judged the other way
round ("lower" mode: Allow statements with unmodelled conditions count for nothing), so that
a conditioned Allow is never called the default.

Service principals are assumed to carry no aws:PrincipalOrgID, aws:PrincipalAccount or
aws:PrincipalArn (which is why AWS's data-perimeter examples pair those keys with
aws:PrincipalIsAWSService). "Principal": "*" and {"AWS": "*"} both mean every principal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal
from collections.abc import Iterable, Iterator, Mapping, Sequence

from auditor.analyze.iam_actions import Catalogue, default_catalogue, glob_regex, split_action

Mode = Literal["upper", "lower"]
Effect = Literal["Allow", "Deny"]

DEFAULT_ENDPOINT_POLICY: Mapping[str, Any] = {
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
"""The policy AWS applies to an endpoint that has none (VPC endpoint policy page)."""


class PolicyError(ValueError):
    """The document is not a valid IAM policy; the message says what is wrong and where."""


# -- the parsed policy -------------------------------------------------------------------

@dataclass(frozen=True)
class ConditionClause:
    """One key of one condition operator: ``"StringEquals": {"aws:PrincipalOrgID": [...]}``."""

    operator: str                       # as written, e.g. ForAnyValue:StringLikeIfExists
    base: str                           # StringLike
    qualifier: str                      # "", ForAnyValue or ForAllValues
    if_exists: bool
    key: str                            # as written
    values: tuple[str, ...]             # booleans as true/false, numbers as written by json


@dataclass(frozen=True)
class Statement:
    """One statement, normalised: every element a tuple, Not* elements flagged."""

    index: int
    sid: str | None
    effect: Effect
    principals: tuple[tuple[str, str], ...]   # (kind, value); kind "*", AWS, Service, Federated, CanonicalUser
    not_principal: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[ConditionClause, ...]
    defaulted: tuple[str, ...] = ()         # elements missing and read as "*" (Principal, Resource)

    @property
    def label(self) -> str:
        """How findings name the statement: ``statement 2 (Sid AllowOrg)``."""
        return f"statement {self.index}" + (f" (Sid {self.sid})" if self.sid else "")


@dataclass(frozen=True)
class Policy:
    """A parsed policy (hashable, so analyses of it can be cached)."""

    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None


_TOP = ("Version", "Id", "Statement")
_ELEMENTS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource",
             "Condition")
_PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
_VERSIONS = ("2012-10-17", "2008-10-17")
_BASES = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
          "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
          "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
          "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
          "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null")
_BASE_BY_LOWER = {b.lower(): b for b in _BASES}
_QUALIFIERS = ("ForAnyValue", "ForAllValues")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_policy(document: Any) -> Policy:
    """The policy in `document` (JSON text, or JSON already parsed). Raises PolicyError,
    naming the element at fault, for anything that is not a valid IAM policy document."""
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"the policy is not UTF-8 text: {exc}") from None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError) as exc:
            raise PolicyError(f"the policy is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PolicyError(f"a policy is a JSON object with a Statement, got {_kind(document)}")
    unknown = [k for k in document if k not in _TOP]
    if unknown:
        raise PolicyError(f"unknown policy element {unknown[0]!r} (a policy has {', '.join(_TOP)})")
    version = document.get("Version")
    if version is not None and version not in _VERSIONS:
        raise PolicyError(f"Version is {json.dumps(version)}; IAM knows {' and '.join(_VERSIONS)}")
    pid = document.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyError(f"Id is {_kind(pid)}, not a string")
    if "Statement" not in document:
        raise PolicyError("the policy has no Statement")
    raw = document["Statement"]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise PolicyError(f"Statement is {_kind(raw)}; it is one statement object or a list of them")
    return Policy(tuple(_statement(i, s) for i, s in enumerate(raw)), version, pid)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PolicyError(f"{where} is an empty list")
    for item in items:
        if not isinstance(item, str) or not item:
            raise PolicyError(f"{where} holds {_kind(item) if item != '' else 'an empty string'}; "
                              "it takes a string or a list of strings")
    return tuple(items)


def _statement(index: int, raw: Any) -> Statement:
    where = f"statement {index}"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} is {_kind(raw)}, not an object")
    unknown = [k for k in raw if k not in _ELEMENTS]
    if unknown:
        raise PolicyError(f"{where}: unknown element {unknown[0]!r}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{where}: Sid is {_kind(sid)}, not a string")
    effect = raw.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise PolicyError(f"{where}: Effect is {json.dumps(effect) if effect is not None else 'missing'}; "
                          "it is Allow or Deny")
    defaulted: list[str] = []
    principals, not_principal = _principal_element(raw, where, defaulted)
    actions, not_action = _pair(raw, "Action", where)
    if actions is None:
        raise PolicyError(f"{where} has neither Action nor NotAction")
    for action in actions:
        service, name = split_action(action)
        if action != "*" and (":" not in action or not service or not name):
            raise PolicyError(f"{where}: action {action!r} is not \"*\" or service:action")
    resources, not_resource = _pair(raw, "Resource", where)
    if resources is None:
        resources, not_resource = ("*",), False
        defaulted.append("Resource")
    return Statement(index, sid or None, "Allow" if effect.lower() == "allow" else "Deny",
                     principals, not_principal, actions, not_action, resources, not_resource,
                     _conditions(raw.get("Condition"), where), tuple(defaulted))


def _pair(raw: Mapping[str, Any], name: str, where: str) -> tuple[tuple[str, ...] | None, bool]:
    if name in raw and f"Not{name}" in raw:
        raise PolicyError(f"{where} has both {name} and Not{name}")
    if name in raw:
        return _strings(raw[name], f"{where}: {name}"), False
    if f"Not{name}" in raw:
        return _strings(raw[f"Not{name}"], f"{where}: Not{name}"), True
    return None, False


def _principal_element(raw: Mapping[str, Any], where: str,
                       defaulted: list[str]) -> tuple[tuple[tuple[str, str], ...], bool]:
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError(f"{where} has both Principal and NotPrincipal")
    name = "NotPrincipal" if "NotPrincipal" in raw else "Principal"
    if name not in raw:
        defaulted.append("Principal")  # AWS requires one in an endpoint policy; read as everyone
        return (("*", "*"),), False
    value = raw[name]
    if value == "*":
        return (("*", "*"),), name == "NotPrincipal"
    if not isinstance(value, dict) or not value:
        raise PolicyError(f"{where}: {name} is {_kind(value) if value != {} else 'an empty object'}; "
                          "it is \"*\" or an object of AWS, Service, Federated or CanonicalUser")
    out: list[tuple[str, str]] = []
    for kind, names in value.items():
        if kind not in _PRINCIPAL_KINDS:
            raise PolicyError(f"{where}: {name} has unknown principal type {kind!r} "
                              f"(types: {', '.join(_PRINCIPAL_KINDS)})")
        out += [(kind, n) for n in _strings(names, f"{where}: {name} {kind}")]
    return tuple(out), name == "NotPrincipal"


def _condition_values(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PolicyError(f"{where} is an empty list")
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (int, float)):
            out.append(json.dumps(item))
        elif isinstance(item, str):
            out.append(item)
        else:
            raise PolicyError(f"{where} holds {_kind(item)}; condition values are strings, numbers or booleans")
    return tuple(out)


def _conditions(raw: Any, where: str) -> tuple[ConditionClause, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: Condition is {_kind(raw)}, not an object")
    out = []
    for operator, block in raw.items():
        qualifier, base, if_exists = _operator(operator, where)
        if not isinstance(block, dict):
            raise PolicyError(f"{where}: Condition {operator} is {_kind(block)}; it maps condition keys to values")
        for key, value in block.items():
            if not key:
                raise PolicyError(f"{where}: Condition {operator} has an empty key")
            out.append(ConditionClause(operator, base, qualifier, if_exists, key,
                                       _condition_values(value, f"{where}: Condition {operator} {key}")))
    return tuple(out)


def _operator(text: str, where: str) -> tuple[str, str, bool]:
    rest, qualifier = text, ""
    for q in _QUALIFIERS:
        if rest.lower().startswith(q.lower() + ":"):
            rest, qualifier = rest[len(q) + 1:], q
            break
    if_exists = rest.lower().endswith("ifexists") and len(rest) > len("ifexists")
    if if_exists:
        rest = rest[:-len("ifexists")]
    base = _BASE_BY_LOWER.get(rest.lower())
    if base is None or (base == "Null" and (if_exists or qualifier)):
        raise PolicyError(f"{where}: unknown condition operator {text!r}")
    return qualifier, base, if_exists


# -- matching ---------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{[^}]*\}")
_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
_WILD = re.compile(r"[*?]")


def _component(text: str, last: bool) -> str:
    star, one = (".*", ".") if last else ("[^:]*", "[^:]")
    return "".join(star if c == "*" else one if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=8192)
def _arn_body(pattern: str) -> str:
    """A regular expression for an ARN pattern, component by component as IAM matches ARNs:
    a wildcard in partition, service, region or account stays within its component."""
    if pattern == "*":
        return ".*"
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return _component(pattern, True)
    return ":".join(_component(p, i == 5) for i, p in enumerate(parts))


@lru_cache(maxsize=8192)
def _arn_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_arn_body(p)})" for p in patterns), re.DOTALL)


def _arn_matches(pattern: str, value: str) -> bool:
    return _arn_regex((pattern,)).fullmatch(value) is not None


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and arn.startswith("arn:") else None


_NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"})
_MODELLED_BASES = frozenset({"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
                             "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
                             "Bool", "Null"})
# Condition keys the analyzer models, lower case -> (side, attribute).
_KEYS: dict[str, tuple[str, str]] = {
    "aws:principalorgid": ("principal", "org"),
    "aws:principalaccount": ("principal", "account"),
    "aws:principalarn": ("principal", "arn"),
    "aws:principalisawsservice": ("principal", "is_service"),
    "aws:principalservicename": ("principal", "service"),
    "aws:resourceaccount": ("resource", "account"),
    "s3:resourceaccount": ("resource", "account"),
    "aws:resourceorgid": ("resource", "org"),
}


def _one(base: str, want: str, value: str) -> bool:
    """Whether a request value matches one policy value under the positive form of `base`."""
    if base in ("StringEquals", "StringNotEquals"):
        return value == want
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "Bool"):
        return value.lower() == want.lower()
    if base in ("StringLike", "StringNotLike"):
        return glob_regex(want).fullmatch(value) is not None
    return _arn_matches(want, value)  # Arn*


def clause_holds(clause: ConditionClause, present: Sequence[str] | None) -> bool:
    """Whether a modelled clause holds for the request's values of its key (None: the key
    is not in the request). IAM's rules: a missing key fails a positive operator and passes
    a negated one, IfExists passes it, ForAllValues passes an empty set and ForAnyValue fails
    it; several policy values are OR-ed (NOR-ed under a negated operator)."""
    if clause.base == "Null":
        wanted = {v.lower() for v in clause.values}
        return ("true" in wanted) if present is None else ("false" in wanted)
    if not present:
        if clause.if_exists or clause.qualifier == "ForAllValues":
            return True
        if clause.qualifier == "ForAnyValue":
            return False
        return clause.base in _NEGATED

    def test(value: str) -> bool:
        hit = any(_one(clause.base, want, value) for want in clause.values)
        return not hit if clause.base in _NEGATED else hit

    if clause.qualifier == "ForAllValues":
        return all(test(v) for v in present)
    return any(test(v) for v in present)


# -- candidate requests -----------------------------------------------------------------

@dataclass(frozen=True)
class PrincipalCandidate:
    """A principal the analysis tries. Named values come from the policy or the allowlist;
    the others are made up ("any"). `org_label`, `arn_label` and `name_label` are the
    values (or patterns) as named."""

    kind: str                       # aws, service, federated, canonical
    account: str | None = None
    org: str | None = None
    arn: str | None = None
    name: str | None = None         # service principal, federated provider or canonical user
    account_named: bool = False
    org_label: str | None = None
    arn_label: str | None = None
    name_label: str | None = None

    @property
    def unscoped(self) -> bool:
        """Whether this stands for any principal: one in an account and organisation nobody
        names (its ARN may follow a pattern: anyone can name a role in their own account)."""
        return (self.kind == "aws" and not self.account_named and self.org_label is None
                and (self.arn_label is None or not _pinned(self.arn_label)))

    def value(self, attribute: str) -> str | None:
        """The request's value of a modelled principal key (None: not in the request)."""
        if attribute == "is_service":
            return "true" if self.kind == "service" else "false"
        if attribute == "service":
            return self.name if self.kind == "service" else None
        return {"org": self.org, "account": self.account, "arn": self.arn}[attribute] if self.kind == "aws" else None

    def describe(self) -> str:
        """The principal in words: ``any principal``, ``a principal in o-abc123`` ..."""
        if self.kind == "service":
            named = self.name_label
            return "any AWS service principal" if named is None else f"AWS service principal {named}"
        if self.kind != "aws":
            what = "federated principal" if self.kind == "federated" else "canonical user"
            return f"{what} {self.name_label}" if self.name_label is not None else f"any {what}"
        org = f" in {self.org_label}" if self.org_label else ""
        if self.arn_label is not None:
            return f"principal {self.arn_label}{org}"
        if self.account_named:
            return f"a principal in account {self.account}{org}"
        if org:
            return f"a principal{org}"
        return "any principal" if self.org is not None else "any principal outside every organisation"


def _pinned(arn_pattern: str) -> bool:
    """Whether a principal ARN pattern names one account (or is a unique id, not an ARN)."""
    account = _arn_account(arn_pattern)
    return account is None or (account != "" and not _WILD.search(account))


@dataclass(frozen=True)
class ResourceCandidate:
    """A resource the analysis tries: an ARN with its owner account and organisation."""

    arn: str
    account: str | None
    org: str | None
    account_named: bool = False
    org_label: str | None = None
    arn_label: str | None = None    # the Resource pattern it instantiates; None: made up

    @property
    def unscoped(self) -> bool:
        """Whether this stands for any resource: in an account and organisation nobody names,
        with no ARN or an ARN pattern that any account's resources match (a wildcard account
        field, or a resource part of wildcards only). A named bucket or AWS-owned path is scoped."""
        return not self.account_named and self.org_label is None and (
            self.arn_label is None or _open_resource(self.arn_label))

    def value(self, attribute: str) -> str | None:
        return self.account if attribute == "account" else self.org

    def describe(self) -> str:
        org = f" in {self.org_label}" if self.org_label else ""
        if self.arn_label is not None:
            field_ = _arn_account(self.arn_label)
            pinned = bool(field_) and not _WILD.search(field_ or "")
            account = f" in account {self.account}" if self.account_named and not pinned else ""
            return f"{self.arn_label}{account}{org}"
        if self.account_named:
            return f"a resource in account {self.account}{org}"
        return f"a resource{org}" if org else "any resource"


def _open_resource(pattern: str) -> bool:
    if pattern == "*":
        return True
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return not pattern.replace("*", "").replace("?", "")
    return bool(_WILD.search(parts[4])) or (parts[4] == "" and not re.sub(r"[*?/]", "", parts[5]))


ANY_ACTION = "zz-unnamed-service:UnnamedAction"
"""The candidate standing for every action of every service nothing names."""


def describe_action(action: str) -> str:
    """An action candidate in words (``any action`` for `ANY_ACTION`)."""
    if action == ANY_ACTION:
        return "any action"
    if action.endswith(":*"):
        return f"any other {action[:-2]} action"
    return action


@dataclass(frozen=True)
class Allowlist:
    """What a policy should let through; None leaves a dimension unconstrained.

    - principals: 12-digit accounts, organisation ids (o-...), principal ARNs (patterns
      allowed; ``arn:...:root`` means the account) and service principals
      (``ec2.amazonaws.com``, ``*.amazonaws.com`` for all). Empty: only "any principal" is
      outside (`PrincipalCandidate.unscoped`): specific accounts, ARNs, organisations and
      service principals are all within.
    - actions: action patterns. Only services with an entry are constrained (``*``
      constrains every service); empty: nothing is outside.
    - resources: accounts, organisation ids and resource ARN patterns; ``*`` trusts every
      resource. Empty: only "any resource" is outside (`ResourceCandidate.unscoped`).
    """

    principals: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None


def _split_ids(items: Iterable[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(accounts, organisations, ARNs, other names) of an allowlist."""
    accounts, orgs, arns, names = [], [], [], []
    for item in items:
        root = _ROOT.match(item)
        if _ACCOUNT.match(item) or root:
            accounts.append(root.group(1) if root else item)
        elif item.startswith("o-"):
            orgs.append(item)
        elif item.startswith("arn:"):
            arns.append(item)
        else:
            names.append(item)
    return accounts, orgs, arns, names


def principal_within(p: PrincipalCandidate, allowed: Sequence[str]) -> bool:
    """Whether a candidate principal is within an allowlist (see `Allowlist`)."""
    if not allowed:
        return not p.unscoped
    accounts, orgs, arns, names = _split_ids(allowed)
    if p.kind == "aws":
        return ((p.account is not None and p.account in accounts) or (p.org is not None and p.org in orgs)
                or (p.arn is not None and any(_arn_matches(a, p.arn) for a in arns)))
    return p.name is not None and any(glob_regex(n, True).fullmatch(p.name) for n in names)


def action_within(action: str, allowed: Sequence[str]) -> bool:
    """Whether an action is within an allowlist of action patterns (see `Allowlist`)."""
    constrained = {split_action(a)[0] for a in allowed}
    service = split_action(action)[0]
    if "*" not in constrained and service not in constrained:
        return True
    return any(glob_regex(a, True).fullmatch(action) for a in allowed)


def resource_within(r: ResourceCandidate, allowed: Sequence[str]) -> bool:
    """Whether a candidate resource is within an allowlist (see `Allowlist`)."""
    if not allowed:
        return not r.unscoped
    if "*" in allowed:
        return True
    accounts, orgs, arns, _ = _split_ids(allowed)
    return ((r.account is not None and r.account in accounts) or (r.org is not None and r.org in orgs)
            or any(_arn_matches(a, r.arn) for a in arns))


def _outside_text(allowed: Sequence[str], noun: str) -> str:
    accounts, orgs, arns, names = _split_ids(allowed)
    parts = [*orgs]
    if accounts:
        parts.append("accounts " + ", ".join(accounts))
    parts += arns
    if names:
        parts.append("service principals " + ", ".join(names))
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"a {noun} outside {joined}"


# -- the universe of candidates ---------------------------------------------------------

@dataclass(frozen=True)
class Universe:
    """The candidate principals, actions and resources an analysis decides over, most
    telling first (the first allowed one becomes the counter-example)."""

    principals: tuple[PrincipalCandidate, ...]
    actions: tuple[str, ...]
    resources: tuple[ResourceCandidate, ...]


@dataclass
class _Names:
    """Values a set of policies (and an allowlist) name, in order of first mention."""

    accounts: dict[str, None] = field(default_factory=dict)
    orgs: dict[str, str] = field(default_factory=dict)            # instance -> label
    arns: dict[str, None] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    federated: dict[str, None] = field(default_factory=dict)
    canonical: dict[str, None] = field(default_factory=dict)
    resources: dict[str, None] = field(default_factory=dict)
    resource_accounts: dict[str, None] = field(default_factory=dict)
    resource_orgs: dict[str, str] = field(default_factory=dict)
    actions: dict[str, None] = field(default_factory=dict)
    arn_excluded: bool = False     # a negated condition on aws:PrincipalArn (StringNotLike, ArnNotEquals ...)


def _instances(pattern: str) -> list[str]:
    """Values matching a wildcard pattern: the shortest, and one with made-up text in each gap."""
    if not _WILD.search(pattern):
        return [pattern]
    out = [pattern.replace("*", "").replace("?", "x"), pattern.replace("*", "unnamed").replace("?", "x")]
    return list(dict.fromkeys(out))


def _collect(policies: Iterable[Policy], allowlist: Allowlist | None) -> _Names:
    names = _Names()
    for policy in policies:
        for st in policy.statements:
            for kind, value in st.principals:
                _principal_name(names, kind, value)
            for a in st.actions:
                names.actions[a] = None
            for r in st.resources:
                if r != "*":
                    names.resources[_VARIABLE.sub("*", r)] = None
                    _resource_account(names, r)
            for clause in st.conditions:
                _condition_names(names, clause)
    if allowlist is not None:
        accounts, orgs, arns, others = _split_ids(allowlist.principals or ())
        for a in accounts:
            names.accounts[a] = None
        for o in orgs:
            names.orgs.setdefault(o, o)
        for arn in arns:
            _principal_name(names, "AWS", arn)
        for n in others:
            for i in _instances(n):
                names.services.setdefault(i.lower(), n)
        for a in allowlist.actions or ():
            names.actions[a] = None
        accounts, orgs, arns, _ = _split_ids(allowlist.resources or ())
        for a in accounts:
            names.resource_accounts[a] = None
        for o in orgs:
            names.resource_orgs.setdefault(o, o)
        for arn in arns:
            names.resources[arn] = None
            _resource_account(names, arn)
    return names


def _principal_name(names: _Names, kind: str, value: str) -> None:
    if kind == "*" or value == "*":
        return
    if kind == "AWS":
        root = _ROOT.match(value)
        if _ACCOUNT.match(value) or root:
            names.accounts[root.group(1) if root else value] = None
            return
        names.arns[value] = None
        account = _arn_account(value)
        if account and _ACCOUNT.match(account):
            names.accounts[account] = None
    elif kind == "Service":
        for i in _instances(value):
            names.services.setdefault(i.lower(), value)
    elif kind == "Federated":
        names.federated[value] = None
    else:
        names.canonical[value] = None


def _resource_account(names: _Names, arn: str) -> None:
    # Literal account fields only; "aws" (AWS-owned resources) counts as an account too.
    account = _arn_account(arn)
    if account and not _WILD.search(account):
        names.resource_accounts[account] = None


def _condition_names(names: _Names, clause: ConditionClause) -> None:
    modelled = _KEYS.get(clause.key.lower())
    if modelled is None or clause.base in ("Null", "Bool"):
        return
    side, attribute = modelled
    if (side, attribute) == ("principal", "arn") and "Not" in clause.base:
        names.arn_excluded = True
    for value in clause.values:
        if _VARIABLE.search(value):
            continue
        if side == "principal" and attribute == "arn":
            _principal_name(names, "AWS", value)
        elif side == "principal" and attribute == "service":
            _principal_name(names, "Service", value)
        for i in _instances(value):
            if (side, attribute) == ("principal", "account"):
                names.accounts[i] = None
            elif (side, attribute) == ("principal", "org"):
                names.orgs.setdefault(i, value)
            elif (side, attribute) == ("resource", "account"):
                names.resource_accounts[i] = None
            elif (side, attribute) == ("resource", "org"):
                names.resource_orgs.setdefault(i, value)


def _fresh(base: str, used: Iterable[str]) -> str:
    """`base` with the smallest number appended that makes it a value nothing names."""
    taken = set(used)
    n = 0
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def _fresh_account(used: Iterable[str], start: int) -> str:
    """A 12-digit account id nothing names, counting down from `start`."""
    taken = set(used)
    n = start
    while f"{n:012d}" in taken:
        n -= 1
    return f"{n:012d}"


def _arn_instances(pattern: str, account: str, fresh: bool) -> list[str]:
    """Instances of an ARN pattern owned by `account` ([] when it cannot be: another
    account named, or the account field does not match). A non-ARN (unique id) goes with
    the made-up account only; an empty account field (S3 buckets) goes with every account."""
    parts = pattern.split(":", 5)
    if len(parts) < 6 or not pattern.startswith("arn:"):
        return _instances(pattern) if fresh else []
    field_ = parts[4]
    if field_ and not _WILD.search(field_) and field_ != account:
        return []
    if _WILD.search(field_) and not glob_regex(field_).fullmatch(account):
        return []
    owner = account if field_ else ""
    return [":".join([*(p.replace("*", "").replace("?", "x") for p in parts[:4]), owner, tail])
            for tail in _instances(parts[5])]


def build_universe(policies: Iterable[Policy], allowlist: Allowlist | None = None,
                   catalogue: Catalogue | None = None) -> Universe:
    """The candidates for deciding over `policies` (and `allowlist`): every value they
    name, instances of their patterns, and one made-up value per dimension."""
    cat = catalogue or default_catalogue()
    names = _collect(policies, allowlist)
    account = _fresh_account(names.accounts, 999999999999)
    org = _fresh("o-unnamed", names.orgs)
    principals: list[PrincipalCandidate] = []
    for acct, named in [(account, False), *((a, True) for a in names.accounts)]:
        arns: list[tuple[str, str | None]] = [(f"arn:aws:iam::{acct}:user/unnamed-principal", None)]
        if names.arn_excluded:
            # A negated condition on aws:PrincipalArn can tell ARN shapes apart: a made-up IAM
            # role and role session (sts assumed-role) too, not only a user.
            arns += [(f"arn:aws:iam::{acct}:role/unnamed-role", None),
                     (f"arn:aws:sts::{acct}:assumed-role/unnamed-role/unnamed-session", None)]
        arns += [(i, pattern) for pattern in names.arns for i in _arn_instances(pattern, acct, not named)]
        for org_value, org_label in [(org, None), (None, None), *names.orgs.items()]:
            principals += [PrincipalCandidate("aws", acct, org_value, arn, None, named, org_label, label)
                           for arn, label in arns]
    principals += [PrincipalCandidate("service", name=s, name_label=label)
                   for s, label in [(_fresh("unnamed-service", names.services) + ".amazonaws.com", None),
                                    *names.services.items()]]
    # Federated and canonical principals exist whether or not the policy names one: a made-up
    # one of each, then those named.
    principals += [PrincipalCandidate("federated", name=n, name_label=label)
                   for n, label in ((_fresh("unnamed-identity-provider", names.federated), None),
                                    *((n, n) for n in names.federated))]
    principals += [PrincipalCandidate("canonical", name=n, name_label=label)
                   for n, label in ((_fresh("unnamed-canonical-user", names.canonical), None),
                                    *((n, n) for n in names.canonical))]

    r_account = _fresh_account(names.resource_accounts, 999999999899)
    resources: list[ResourceCandidate] = []
    for acct, named in [(r_account, False), *((a, True) for a in names.resource_accounts)]:
        arns = [(f"arn:aws:unnamed-service:unnamed-region:{acct}:unnamed-resource", None)]
        arns += [(i, pattern) for pattern in names.resources for i in _arn_instances(pattern, acct, True)]
        for org_value, org_label in [(org, None), (None, None), *names.resource_orgs.items()]:
            resources += [ResourceCandidate(arn, _arn_account(arn) or acct, org_value, named, org_label, label)
                          for arn, label in arns]
    return Universe(tuple(principals), _action_candidates(names.actions, cat), tuple(resources))


def _action_candidates(patterns: Iterable[str], cat: Catalogue) -> tuple[str, ...]:
    services: dict[str, None] = {}
    literals: list[str] = []
    for pattern in patterns:
        if pattern == "*":
            continue
        service, name = split_action(pattern)
        if _WILD.search(service):
            services.update(dict.fromkeys(s for s in cat.services() if glob_regex(service, True).fullmatch(s)))
        else:
            services[service] = None
        if not _WILD.search(pattern):
            literals.append(pattern)
    known = {a.lower(): a for s in services for a in cat.actions(s)}
    out = [known.get(a.lower(), a) for a in literals]
    # A service the catalogue does not know has any action: instances of the policy's own
    # patterns for it (``zzsvc:Do*`` → ``zzsvc:Do``, ``zzsvc:Dounnamed``), so that a partial
    # wildcard is decided on an action it matches.
    for pattern in patterns:
        service, _ = split_action(pattern)
        if pattern != "*" and not _WILD.search(service) and not cat.actions(service) and _WILD.search(pattern):
            out += _instances(pattern)
    out += [a for s in services for a in cat.actions(s)]
    out += [f"{s}:*" for s in services]
    out.append(ANY_ACTION)
    seen: dict[str, str] = {}
    for a in out:
        seen.setdefault(a.lower(), a)
    return tuple(seen.values())


# -- evaluation over the universe --------------------------------------------------------

@dataclass(frozen=True)
class _Compiled:
    statement: Statement
    principal_clauses: tuple[tuple[ConditionClause, str], ...]
    resource_clauses: tuple[tuple[ConditionClause, str], ...]
    unmodelled: tuple[str, ...]
    actions: re.Pattern[str]
    resources: re.Pattern[str]


def _compile(st: Statement) -> _Compiled:
    principal: list[tuple[ConditionClause, str]] = []
    resource: list[tuple[ConditionClause, str]] = []
    unmodelled: list[str] = []
    for clause in st.conditions:
        modelled = _KEYS.get(clause.key.lower())
        variable = any(_VARIABLE.search(v) for v in clause.values)
        if modelled is None or clause.base not in _MODELLED_BASES or variable:
            why = " with a policy variable" if variable and modelled else ""
            unmodelled.append(f"{clause.key} ({clause.operator}{why})")
        elif modelled[0] == "principal":
            principal.append((clause, modelled[1]))
        else:
            resource.append((clause, modelled[1]))
    if any(_VARIABLE.search(r) for r in st.resources):
        unmodelled.append(f"{'NotResource' if st.not_resource else 'Resource'} with a policy variable")
    actions = re.compile("|".join(f"(?:{glob_regex(a, True).pattern})" for a in st.actions),
                         re.DOTALL | re.IGNORECASE)
    resources = _arn_regex(tuple(_VARIABLE.sub("*", x) for x in st.resources))
    return _Compiled(st, tuple(principal), tuple(resource), tuple(unmodelled), actions, resources)


def _principal_entries_match(entries: tuple[tuple[str, str], ...], p: PrincipalCandidate) -> bool:
    for kind, value in entries:
        if kind == "*" or (kind == "AWS" and value == "*"):
            return True
        if kind == "AWS" and p.kind == "aws":
            root = _ROOT.match(value)
            if _ACCOUNT.match(value) or root:
                if p.account == (root.group(1) if root else value):
                    return True
            elif p.arn is not None and _arn_matches(value, p.arn):
                return True
        elif kind == "Service" and p.kind == "service" and p.name is not None:
            if glob_regex(value, True).fullmatch(p.name):
                return True
        elif kind == "Federated" and p.kind == "federated" and p.name == value:
            return True
        elif kind == "CanonicalUser" and p.kind == "canonical" and p.name == value:
            return True
    return False


def _matches_principal(c: _Compiled, p: PrincipalCandidate) -> bool:
    st = c.statement
    if _principal_entries_match(st.principals, p) == st.not_principal:
        return False
    for clause, attribute in c.principal_clauses:
        value = p.value(attribute)
        if not clause_holds(clause, None if value is None else (value,)):
            return False
    return True


def _matches_action(c: _Compiled, action: str) -> bool:
    return (c.actions.fullmatch(action) is not None) != c.statement.not_action


def _matches_resource(c: _Compiled, r: ResourceCandidate) -> bool:
    if (c.resources.fullmatch(r.arn) is not None) == c.statement.not_resource:
        return False
    for clause, attribute in c.resource_clauses:
        value = r.value(attribute)
        if not clause_holds(clause, None if value is None else (value,)):
            return False
    return True


def _groups(sigs: Sequence[int]) -> dict[int, list[int]]:
    """Candidate indexes by signature, signatures in order of first appearance."""
    out: dict[int, list[int]] = {}
    for i, s in enumerate(sigs):
        out.setdefault(s, []).append(i)
    return out


class Evaluation:
    """A policy decided over a universe: which statements match each candidate."""

    def __init__(self, policy: Policy, universe: Universe):
        self.policy = policy
        self.universe = universe
        self.compiled = tuple(_compile(s) for s in policy.statements)
        self.p_sigs = [self._sig(_matches_principal, p) for p in universe.principals]
        self.a_sigs = [self._sig(_matches_action, a) for a in universe.actions]
        self.r_sigs = [self._sig(_matches_resource, r) for r in universe.resources]
        allow = deny = unmodelled = 0
        for i, c in enumerate(self.compiled):
            if c.statement.effect == "Allow":
                allow |= 1 << i
            else:
                deny |= 1 << i
            if c.unmodelled:
                unmodelled |= 1 << i
        # upper: unmodelled conditions hold in Allows, and Denies with them may not apply;
        # lower: Allows with them count for nothing, Denies with them apply.
        self.masks: dict[str, tuple[int, int]] = {"upper": (allow, deny & ~unmodelled),
                                                  "lower": (allow & ~unmodelled, deny)}

    def _sig(self, match: Any, candidate: Any) -> int:
        sig = 0
        for i, c in enumerate(self.compiled):
            if match(c, candidate):
                sig |= 1 << i
        return sig

    def allowed(self, mask: int, mode: Mode = "upper") -> bool:
        """Whether a request matching exactly the statements in `mask` is allowed."""
        allow, deny = self.masks[mode]
        return bool(mask & allow) and not mask & deny

    def requests(self, mode: Mode = "upper") -> frozenset[tuple[PrincipalCandidate, str, ResourceCandidate]]:
        """Every candidate request the policy allows (for tests and small universes)."""
        u = self.universe
        out: set[tuple[PrincipalCandidate, str, ResourceCandidate]] = set()
        for ps, pis in _groups(self.p_sigs).items():
            for as_, ais in _groups(self.a_sigs).items():
                for rs, ris in _groups(self.r_sigs).items():
                    if self.allowed(ps & as_ & rs, mode):
                        out.update((u.principals[p], u.actions[a], u.resources[r])
                                   for p in pis for a in ais for r in ris)
        return frozenset(out)

    def search(self, p_keep: Sequence[bool], a_keep: Sequence[bool], r_keep: Sequence[bool],
               outside: tuple[Sequence[bool], Sequence[bool], Sequence[bool]] | None = None,
               mode: Mode = "upper") -> tuple[int, int, int, int] | None:
        """The first allowed request (principal, action, resource indexes, statement mask)
        among the kept candidates; with `outside`, one that is outside in some dimension."""
        def keyed(sigs: Sequence[int], keep: Sequence[bool], out: Sequence[bool] | None) -> dict[tuple[int, bool], int]:
            found: dict[tuple[int, bool], int] = {}
            for i, s in enumerate(sigs):
                if keep[i]:
                    found.setdefault((s, bool(out[i]) if out is not None else True), i)
            return found

        ps = keyed(self.p_sigs, p_keep, outside[0] if outside else None)
        as_ = keyed(self.a_sigs, a_keep, outside[1] if outside else None)
        rs = keyed(self.r_sigs, r_keep, outside[2] if outside else None)
        for (psig, pout), p in ps.items():
            for (asig, aout), a in as_.items():
                for (rsig, rout), r in rs.items():
                    mask = psig & asig & rsig
                    if (pout or aout or rout) and self.allowed(mask, mode):
                        return p, a, r, mask
        return None

    def note(self, mask: int) -> str:
        """Why a request matching `mask` is allowed, when that rests on unmodelled conditions."""
        allow, _ = self.masks["upper"]
        matching = [c for i, c in enumerate(self.compiled) if mask & allow & (1 << i)]
        if not matching or any(not c.unmodelled for c in matching):
            return ""
        c = matching[0]
        return (f" (allowed by {c.statement.label} if its condition on {', '.join(c.unmodelled)} holds, "
                "which the analyzer does not model)")


# -- the analysis ---------------------------------------------------------------------

@dataclass(frozen=True)
class PrincipalScope:
    """The principals a policy lets through (for some action and resource)."""

    any_principal: bool
    organisations: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    principal_arns: tuple[str, ...] = ()
    any_service: bool = False
    services: tuple[str, ...] = ()
    other: tuple[str, ...] = ()

    def describe(self) -> tuple[str, ...]:
        return (*(["any principal"] if self.any_principal else []), *self.organisations,
                *(f"account {a}" for a in self.accounts), *(f"principal {a}" for a in self.principal_arns),
                *(["any AWS service principal"] if self.any_service else []),
                *(f"service principal {s}" for s in self.services), *self.other)


@dataclass(frozen=True)
class ActionScope:
    """The actions a policy allows (to some principal on some resource). Services the
    policy names are expanded against the catalogue; every other service is all or nothing."""

    every_action: bool                      # actions of services nothing names are allowed
    actions: tuple[str, ...] = ()           # allowed actions of the named services (catalogue spelling)
    whole_services: tuple[str, ...] = ()    # named services with every action allowed
    denied: tuple[str, ...] = ()            # catalogued actions of named services not allowed

    def describe(self) -> tuple[str, ...]:
        if self.every_action and not self.denied:
            return ("every action",)
        head = [f"every action except {', '.join(self.denied)}"] if self.every_action else []
        rest = [a for a in self.actions if split_action(a)[0] not in self.whole_services]
        return (*head, *(f"{s}:*" for s in self.whole_services if not self.every_action), *(
            rest if not self.every_action else ()))


@dataclass(frozen=True)
class ResourceScope:
    """The resources a policy lets requests reach."""

    any_resource: bool
    organisations: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    arns: tuple[str, ...] = ()

    def describe(self) -> tuple[str, ...]:
        return (*(["any resource"] if self.any_resource else []), *self.organisations,
                *(f"account {a}" for a in self.accounts), *self.arns)


@dataclass(frozen=True)
class PolicyAnalysis:
    """What `analyze` says of one policy.

    - default_full_access: the policy lets every principal do every action on every resource
      without relying on an unmodelled condition (AWS's default, however written);
    - unscoped: some action is allowed to any principal on any resource;
    - principals / actions / resources: what passes, each for some value of the other two;
    - any_principal_reaches: the resources "any principal" reaches (empty when none);
    - unmodelled: conditions the analysis assumed to hold (Allow) or not (Deny), per statement;
    - ignored_denies: Deny statements not counted because of such a condition;
    - placeholders: ``<...>`` placeholders left in the document (sample policies);
    - notes: elements missing and read as "*".
    """

    default_full_access: bool
    unscoped: bool
    principals: PrincipalScope
    actions: ActionScope
    resources: ResourceScope
    any_principal_reaches: tuple[str, ...] = ()
    unmodelled: tuple[str, ...] = ()
    ignored_denies: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


_PLACEHOLDER = re.compile(r"<[A-Za-z0-9_.:-]+>")


def _strings_of(policy: Policy) -> Iterator[str]:
    for st in policy.statements:
        yield from (v for _, v in st.principals)
        yield from st.actions
        yield from st.resources
        for clause in st.conditions:
            yield clause.key
            yield from clause.values


def _minimal(classes: Iterable[frozenset[tuple[str, str]]]) -> list[frozenset[tuple[str, str]]]:
    """The non-empty classes no other given non-empty class is more general than, in order."""
    given = [c for c in dict.fromkeys(classes) if c]
    return [c for c in given if not any(other < c for other in given)]


def _kinds(c: frozenset[tuple[str, str]]) -> set[str]:
    return {k for k, _ in c}


def _value(c: frozenset[tuple[str, str]], kind: str) -> str:
    return next(v for k, v in c if k == kind)


def _p_class(p: PrincipalCandidate) -> frozenset[tuple[str, str]]:
    items = set()
    if p.account_named:
        items.add(("account", p.account or ""))
    if p.org_label:
        items.add(("org", p.org_label))
    if p.arn_label:
        items.add(("arn", p.arn_label))
    return frozenset(items)


def _r_class(r: ResourceCandidate) -> frozenset[tuple[str, str]]:
    items = set()
    if r.account_named:
        items.add(("account", r.account or ""))
    if r.org_label:
        items.add(("org", r.org_label))
    if r.arn_label:
        items.add(("arn", r.arn_label))
    return frozenset(items)


@lru_cache(maxsize=512)
def _evaluation(policy: Policy, allowlist: Allowlist | None, catalogue: Catalogue | None) -> Evaluation:
    return Evaluation(policy, build_universe([policy], allowlist, catalogue))


def analyze(policy: Policy, catalogue: Catalogue | None = None) -> PolicyAnalysis:
    """What the policy lets through (see `PolicyAnalysis`)."""
    return _analyze(policy, catalogue)


@lru_cache(maxsize=512)
def _analyze(policy: Policy, catalogue: Catalogue | None) -> PolicyAnalysis:
    ev = _evaluation(policy, None, catalogue)
    u = ev.universe
    p_groups, a_groups, r_groups = _groups(ev.p_sigs), _groups(ev.a_sigs), _groups(ev.r_sigs)

    def reach(first: dict[int, list[int]], second: dict[int, list[int]]) -> set[int]:
        return {x & y for x in first for y in second}

    ar, pr, pa = reach(a_groups, r_groups), reach(p_groups, r_groups), reach(p_groups, a_groups)
    p_ok = {s for s in p_groups if any(ev.allowed(s & x) for x in ar)}
    a_ok = {s for s in a_groups if any(ev.allowed(s & x) for x in pr)}
    r_ok = {s for s in r_groups if any(ev.allowed(s & x) for x in pa)}
    passing_p = [p for p, s in zip(u.principals, ev.p_sigs, strict=True) if s in p_ok]
    passing_r = [r for r, s in zip(u.resources, ev.r_sigs, strict=True) if s in r_ok]

    aws = [p for p in passing_p if p.kind == "aws"]
    p_classes = _minimal(_p_class(p) for p in aws if not p.unscoped)
    described = {_p_class(p): p.describe() for p in reversed(aws)}
    principals = PrincipalScope(
        any_principal=any(p.unscoped for p in aws),
        organisations=tuple(_value(c, "org") for c in p_classes if _kinds(c) == {"org"}),
        accounts=tuple(_value(c, "account") for c in p_classes if _kinds(c) == {"account"}),
        principal_arns=tuple(_value(c, "arn") for c in p_classes if _kinds(c) in ({"arn"}, {"arn", "account"})),
        any_service=any(p.kind == "service" and p.name_label is None for p in passing_p),
        services=tuple(dict.fromkeys(p.name_label for p in passing_p if p.kind == "service" and p.name_label)),
        other=(*(described[c] for c in p_classes if _kinds(c) in ({"account", "org"}, {"arn", "org"},
                                                                 {"arn", "account", "org"})),
               # (a made-up federated principal or canonical user adds nothing to "any principal")
               *(p.describe() for p in passing_p if p.kind in ("federated", "canonical")
                 and (p.name_label is not None or not any(q.unscoped for q in aws)))))

    allowed_actions = {a for a, s in zip(u.actions, ev.a_sigs, strict=True) if s in a_ok}
    named_services = list(dict.fromkeys(a[:-2] for a in u.actions if a.endswith(":*")))
    real = [a for a in u.actions if a != ANY_ACTION and not a.endswith(":*")]
    whole = tuple(s for s in named_services if f"{s}:*" in allowed_actions
                  and all(a in allowed_actions for a in real if split_action(a)[0] == s))
    actions = ActionScope(every_action=ANY_ACTION in allowed_actions,
                          actions=tuple(a for a in real if a in allowed_actions), whole_services=whole,
                          denied=tuple(a for a in real if a not in allowed_actions))

    r_classes = _minimal(_r_class(r) for r in passing_r if not r.unscoped)
    r_described = {_r_class(r): r.describe() for r in reversed(passing_r)}
    resources = ResourceScope(
        any_resource=any(r.unscoped for r in passing_r),
        organisations=tuple(_value(c, "org") for c in r_classes if _kinds(c) == {"org"}),
        accounts=tuple(_value(c, "account") for c in r_classes if _kinds(c) == {"account"}),
        arns=tuple(r_described[c] for c in r_classes if _kinds(c) not in ({"org"}, {"account"})))

    # What "any principal" reaches, and whether that includes "any resource".
    any_p = {s for p, s in zip(u.principals, ev.p_sigs, strict=True) if p.unscoped}
    a_sigs = set(a_groups)
    r_reached = {s for s in r_groups if any(ev.allowed(p & a & s) for p in any_p for a in a_sigs)}
    reached = [r for r, s in zip(u.resources, ev.r_sigs, strict=True) if s in r_reached]
    unscoped = any(r.unscoped for r in reached)
    reached_described = {_r_class(r): r.describe() for r in reversed(reached)}
    reaches = ("any resource",) if unscoped else tuple(
        reached_described[c] for c in _minimal(_r_class(r) for r in reached))
    lower_all = all(ev.allowed(p & a & r, "lower") for p in p_groups for a in a_groups for r in r_groups)

    unmodelled = tuple(f"{c.statement.label}: {u_}" for c in ev.compiled for u_ in c.unmodelled)
    ignored = tuple(f"{c.statement.label} (conditions on {', '.join(c.unmodelled)})" for c in ev.compiled
                    if c.statement.effect == "Deny" and c.unmodelled)
    notes = tuple(f"{st.label}: no {e}; read as \"*\"" for st in policy.statements for e in st.defaulted)
    placeholders = tuple(dict.fromkeys(m for s in _strings_of(policy) for m in _PLACEHOLDER.findall(s)))
    return PolicyAnalysis(lower_all, unscoped, principals, actions, resources, tuple(reaches), unmodelled, ignored,
                          placeholders, notes)


def find_outside(policy: Policy, allowlist: Allowlist, catalogue: Catalogue | None = None) -> str | None:
    """A request the policy allows outside the allowlist, as a counter-example
    (``s3:GetObject by a principal outside o-abc123 and accounts 111111111111 on any
    resource``), or None when it allows nothing outside. Unmodelled conditions are read
    in the allowing direction (the note says when the example rests on one)."""
    return _find_outside(policy, allowlist, catalogue)


@lru_cache(maxsize=2048)
def _find_outside(policy: Policy, allowlist: Allowlist, catalogue: Catalogue | None) -> str | None:
    ev = _evaluation(policy, allowlist, catalogue)
    u = ev.universe
    p_out = [allowlist.principals is not None and not principal_within(p, allowlist.principals) for p in u.principals]
    a_out = [allowlist.actions is not None and not action_within(a, allowlist.actions) for a in u.actions]
    r_out = [allowlist.resources is not None and not resource_within(r, allowlist.resources) for r in u.resources]
    found = ev.search([True] * len(p_out), [True] * len(a_out), [True] * len(r_out), (p_out, a_out, r_out))
    if found is None:
        return None
    p, a, r, mask = found
    principal, resource = u.principals[p], u.resources[r]
    who = principal.describe()
    if allowlist.principals and p_out[p] and principal.kind == "aws" and not _p_class(principal):
        who = _outside_text(allowlist.principals, "principal")
    where = resource.describe()
    if allowlist.resources and r_out[r] and not _r_class(resource):
        where = _outside_text(allowlist.resources, "resource")
    return f"{describe_action(u.actions[a])} by {who} on {where}{ev.note(mask)}"


def principals_outside(policy: Policy, allowed: Sequence[str], catalogue: Catalogue | None = None) -> str | None:
    """A counter-example of a principal outside `allowed` that the policy lets through, or None."""
    return find_outside(policy, Allowlist(principals=tuple(allowed)), catalogue)


def actions_outside(policy: Policy, allowed: Sequence[str], catalogue: Catalogue | None = None) -> str | None:
    """A counter-example of an action outside `allowed` that the policy allows, or None."""
    return find_outside(policy, Allowlist(actions=tuple(allowed)), catalogue)


def resources_outside(policy: Policy, allowed: Sequence[str], catalogue: Catalogue | None = None) -> str | None:
    """A counter-example of a resource outside `allowed` that the policy lets requests reach, or None."""
    return find_outside(policy, Allowlist(resources=tuple(allowed)), catalogue)


def grants(policy: Policy, universe: Universe, mode: Mode = "upper"
           ) -> frozenset[tuple[PrincipalCandidate, str, ResourceCandidate]]:
    """The candidate requests of `universe` the policy allows: the measure the monotonicity
    properties compare (build the universe from every policy compared)."""
    return Evaluation(policy, universe).requests(mode)


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> Policy:
    return parse_policy(text)


def parse_cached(document: Any) -> Policy:
    """`parse_policy` with a cache keyed on the document's canonical JSON (operators see
    the same endpoint policy once per rule)."""
    try:
        text = document if isinstance(document, str) else json.dumps(document, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"the policy is not JSON data: {exc}") from None
    return _parse_text(text)
