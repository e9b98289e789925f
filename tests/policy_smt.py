"""An SMT oracle for the endpoint-policy analyzer: the policy subset it analyses, in z3.

`auditor/analyze/policy.py` decides over a finite universe of candidate requests built from
the values a policy names. This module decides the same questions another way: a request is a
tuple of z3 string variables, each statement a formula over them, and "is there an allowed
request outside the scope" a satisfiability query. It shares nothing with the analyzer but the
parsed `Policy` (the parser is checked on its own in tests/test_policy.py) and the action
catalogue (the data both read; see "Actions" below). Used by tests/test_policy_smt.py and
verify_outside/policies.py (which puts this folder on sys.path): one copy.

A request (`Request`):

- principal: `kind` (0 an AWS principal, 1 an AWS service principal, 2 federated, 3 a
  canonical user). An AWS principal has an account, an organisation id or none, and an ARN
  ``arn:aws:{iam|sts}::{account}:{rest}`` (its account field is its account; unique ids such
  as ``AIDA...`` are not ARNs and match no ARN pattern; a principal ARN pattern whose account
  field is not an account id, such as CloudFront's ``arn:aws:iam::cloudfront:user/...``,
  names no account's principal). A service principal has a name ending in
  ``.amazonaws.com``; Service entries and allowlist names match it case-insensitively, which
  the oracle decides by lower-casing the pattern (the variable stands for the lower-case
  spelling: a case-insensitive regex costs z3 seconds a query).
  Federated and canonical principals have a name (any string).
- action: ``service:name``, both in lower case (IAM matches actions case-insensitively, so a
  lower-case variable with lower-cased patterns decides the same). Its domain, which is what the
  analyzer claims of the catalogue (auditor/analyze/iam_actions.py, docs/endpoint-policies.md
  "The action catalogue"): a service the catalogue knows has exactly its catalogued actions, plus
  any action the policy or allowlist spells out without a wildcard (the analyzer takes a named
  action to exist); a service the catalogue does not know has any action at all. Only the known
  services some action pattern can match are listed to z3 (an action of a known service no
  pattern's service part matches only meets ``*``, like an action of an unknown service).
- resource: an ARN ``arn:{partition}:{service}:{region}:{account field}:{rest}``, its owner
  account (the account field when that is not empty; S3 buckets have none, and then any
  account), and an organisation id or none.

z3 is told no more of the values (not "12 digits", not "no ':' in a component": either costs
the solver more than it decides): a value that breaks such a rule matches no pattern
component and no named value, so it behaves exactly like a value nothing names.

Condition keys, as the analyzer models them: aws:PrincipalOrgID, aws:PrincipalAccount,
aws:PrincipalArn (present for AWS principals; the org only when it has one),
aws:PrincipalIsAWSService (always present: "true" for service principals),
aws:PrincipalServiceName (service principals), aws:ResourceAccount and s3:ResourceAccount
(always present), aws:ResourceOrgID (when the resource has an org). Operators: the String*,
Arn*, Bool and Null families with IfExists and ForAnyValue:/ForAllValues: (every key is
single-valued, so both qualifiers test the one value; a missing key passes IfExists and
ForAllValues, fails ForAnyValue, fails a positive operator and passes a negated one; several
policy values are OR-ed, NOR-ed under a negated operator). Any other key or operator, or a value
with a policy variable, is *unmodelled* and read as docs/endpoint-policies.md says: in "upper"
mode an Allow assumes it holds and a Deny with one is dropped; in "lower" mode (is it the
default?) an Allow with one is dropped and a Deny assumes it holds. A Resource with a policy
variable is matched with the variable as ``*`` and makes its statement unmodelled the same way.

Questions (`Oracle`): `is_default` (every request allowed in lower mode), and whether some
request allowed in upper mode has its principal, action or resource outside an allowlist
(`principal_outside`, `action_outside`, `resource_outside`), with the allowlist meanings of
`auditor.analyze.policy.Allowlist`, restated here: an empty principal (resource) list puts
outside only an *unnamed* principal (resource): an AWS principal whose account no account
value of the policy names and whose organisation (if any) no org value names (a resource: the
same, and an ARN no scoped Resource pattern matches; a pattern is open when its account field
has a wildcard or its resource part is only wildcards). Values with wildcards name every
value they match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from auditor.analyze.policy import (
    ConditionClause, Policy, Statement, _split_ids, actions_outside, analyze, principals_outside, resources_outside,
)

STR = z3.StringSort()
ANY = z3.Star(z3.AllChar(z3.ReSort(STR)))
ONE = z3.AllChar(z3.ReSort(STR))
NOT_COLON = z3.Intersect(ONE, z3.Complement(z3.Re(":")))
VARIABLE = re.compile(r"\$\{[^}]*\}")
ACCOUNT = re.compile(r"^\d{12}$")
ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
WILD = re.compile(r"[*?]")
AWS, SERVICE, FEDERATED, CANONICAL = 0, 1, 2, 3
NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
MODELLED = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
            "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool", "Null"}
KEYS = {"aws:principalorgid": "p.org", "aws:principalaccount": "p.account", "aws:principalarn": "p.arn",
        "aws:principalisawsservice": "p.is_service", "aws:principalservicename": "p.service",
        "aws:resourceaccount": "r.account", "s3:resourceaccount": "r.account", "aws:resourceorgid": "r.org"}


# -- patterns as z3 regular expressions ------------------------------------------------------

def glob(pattern: str, colon_free: bool = False, ignore_case: bool = False) -> z3.ReRef:
    """An IAM wildcard pattern as a z3 regex: ``*`` any run, ``?`` one character (neither
    crossing ``:`` when `colon_free`, as within one ARN component)."""
    parts: list[z3.ReRef] = []
    literal = ""

    def flush() -> None:
        nonlocal literal
        if literal:
            parts.extend(_literal(literal, ignore_case))
            literal = ""

    for c in pattern:
        if c in "*?":
            flush()
            one = NOT_COLON if colon_free else ONE
            parts.append(z3.Star(one) if c == "*" else one)
        else:
            literal += c
    flush()
    if not parts:
        return z3.Re("")
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def _literal(text: str, ignore_case: bool) -> list[z3.ReRef]:
    if not ignore_case or text.lower() == text.upper():
        return [z3.Re(text)]
    return [z3.Union(z3.Re(c.lower()), z3.Re(c.upper())) if c.lower() != c.upper() else z3.Re(c) for c in text]


def py_glob(pattern: str, colon_free: bool = False, ignore_case: bool = False) -> re.Pattern[str]:
    """The same pattern as a Python regex (for values known in advance)."""
    star, one = ("[^:]*", "[^:]") if colon_free else (".*", ".")
    body = "".join(star if c == "*" else one if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(value: Any, pattern: str, colon_free: bool = False, ignore_case: bool = False) -> z3.BoolRef:
    """`value` (a z3 string or a Python str) matches the wildcard pattern."""
    if isinstance(value, str):
        return z3.BoolVal(py_glob(pattern, colon_free, ignore_case).fullmatch(value) is not None)
    if ignore_case:
        # The variable stands for the lower-case spelling of a name matched case-insensitively
        # (service principals, allowlist names): a case-insensitive regex costs z3 seconds a query.
        pattern, ignore_case = pattern.lower(), False
    if not WILD.search(pattern):
        return value == z3.StringVal(pattern)
    return z3.InRe(value, glob(pattern, colon_free, ignore_case))


def equals(value: Any, want: str, ignore_case: bool = False) -> z3.BoolRef:
    """`value` equals `want` exactly (or ignoring case): no wildcards."""
    if isinstance(value, str):
        return z3.BoolVal(value.lower() == want.lower() if ignore_case else value == want)
    if not ignore_case or want.lower() == want.upper():
        return value == z3.StringVal(want)
    return z3.InRe(value, z3.Concat(*_literal(want, True)) if len(want) > 1 else _literal(want, True)[0])


@dataclass(frozen=True)
class Arn:
    """An ARN as its six components (Python strings where fixed, z3 strings where free)."""

    parts: tuple[Any, Any, Any, Any, Any, Any]

    def whole(self) -> z3.SeqRef:
        items: list[Any] = []
        for i, p in enumerate(self.parts):
            if i:
                items.append(z3.StringVal(":"))
            items.append(z3.StringVal(p) if isinstance(p, str) else p)
        return z3.Concat(*items)


def arn_matches(arn: Arn, pattern: str) -> z3.BoolRef:
    """IAM's ARN matching (ArnLike, Resource, principal ARNs): a six-part pattern component by
    component, wildcards staying within their component (the last takes the rest); a pattern of
    fewer parts as one wildcard pattern over the whole ARN."""
    if pattern == "*":
        return z3.BoolVal(True)
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return matches(arn.whole(), pattern)
    return z3.And(*[matches(v, p, colon_free=i < 5) for i, (v, p) in enumerate(zip(arn.parts, parts, strict=True))])


def arn_any(arn: Arn, patterns: Iterable[str]) -> z3.BoolRef:
    """The ARN matches one of `patterns`. Six-part patterns sharing their first five components
    are decided by one regex over the last (a union): z3 takes minutes over a dozen separate
    negated memberships of one variable (AWS's S3 perimeter policy) and milliseconds over one."""
    groups: dict[tuple[str, ...], list[str]] = {}
    out: list[z3.BoolRef] = []
    for pattern in dict.fromkeys(patterns):
        parts = pattern.split(":", 5)
        if pattern == "*" or len(parts) < 6:
            out.append(arn_matches(arn, pattern))
        else:
            groups.setdefault(tuple(parts[:5]), []).append(parts[5])
    for head, tails in groups.items():
        if len(tails) == 1:
            out.append(arn_matches(arn, ":".join((*head, tails[0]))))
            continue
        first = [matches(v, p, colon_free=True) for v, p in zip(arn.parts[:5], head, strict=True)]
        last = arn.parts[5]
        tail = (z3.BoolVal(any(py_glob(t).fullmatch(last) for t in tails)) if isinstance(last, str)
                else z3.InRe(last, z3.Union(*[glob(t) for t in tails])))
        out.append(z3.And(*first, tail))
    return z3.Or(*out) if out else z3.BoolVal(False)


def string_matches_arn(arn: Arn, pattern: str) -> z3.BoolRef:
    """StringLike over an ARN value: wildcards may cross ``:``. Component-wise when the first
    five components of the pattern are literal, over the whole string otherwise."""
    parts = pattern.split(":", 5)
    if len(parts) == 6 and not any(WILD.search(p) for p in parts[:5]):
        return z3.And(*[equals(v, p) for v, p in zip(arn.parts[:5], parts[:5], strict=True)],
                      matches(arn.parts[5], parts[5]))
    return matches(arn.whole(), pattern)


def string_arn_match(value: Any, pattern: str) -> z3.BoolRef:
    """ArnLike over a value that is not an ARN variable (an account, an org id ...)."""
    if pattern == "*":
        return z3.BoolVal(True)
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return matches(value, pattern)
    if isinstance(value, str):
        body = ":".join(py_glob(p, i < 5).pattern for i, p in enumerate(parts))
        return z3.BoolVal(re.fullmatch(body, value, re.DOTALL) is not None)
    pieces: list[z3.ReRef] = []
    for i, p in enumerate(parts):
        if i:
            pieces.append(z3.Re(":"))
        pieces.append(glob(p, colon_free=i < 5))
    return z3.InRe(value, z3.Concat(*pieces))


# -- the request -------------------------------------------------------------------------

class Request:
    """The z3 variables of one request, with their domain constraints (`domain`)."""

    def __init__(self, tag: str = "") -> None:
        s = lambda n: z3.String(f"{n}{tag}")  # noqa: E731
        self.kind = z3.Int(f"kind{tag}")
        self.p_account, self.p_org, self.p_has_org = s("p_account"), s("p_org"), z3.Bool(f"p_has_org{tag}")
        self.p_sts, self.p_rest = z3.Bool(f"p_sts{tag}"), s("p_rest")
        self.service, self.name = s("service_name"), s("other_name")
        self.a_service, self.a_name = s("a_service"), s("a_name")
        self.r_partition, self.r_service, self.r_region = s("r_partition"), s("r_service"), s("r_region")
        self.r_field, self.r_rest = s("r_account_field"), s("r_rest")
        self.r_account, self.r_org, self.r_has_org = s("r_account"), s("r_org"), z3.Bool(f"r_has_org{tag}")
        self.p_arn = Arn(("arn", "aws", z3.If(self.p_sts, z3.StringVal("sts"), z3.StringVal("iam")), "",
                          self.p_account, self.p_rest))
        self.r_arn = Arn(("arn", self.r_partition, self.r_service, self.r_region, self.r_field, self.r_rest))

    @property
    def aws(self) -> z3.BoolRef:
        return self.kind == AWS

    @property
    def is_service(self) -> z3.BoolRef:
        return self.kind == SERVICE

    def domain(self) -> list[z3.BoolRef]:
        # Deliberately little: a character-class regex (12 digits, DNS letters) costs z3 10 to
        # 50 ms a query and even "no ':'" in six components doubles the test's time. Neither
        # changes an answer: a component holding ":" (or an account that is not 12 digits)
        # matches no pattern component and no named value, exactly like a value nothing names.
        return [z3.And(self.kind >= AWS, self.kind <= CANONICAL),
                z3.SuffixOf(z3.StringVal(".amazonaws.com"), self.service),
                z3.Implies(self.r_field != z3.StringVal(""), self.r_account == self.r_field)]

    def key(self, name: str) -> tuple[z3.BoolRef, Any]:
        """(is the key in the request, its value) for a modelled key's attribute name."""
        if name == "p.org":
            return z3.And(self.aws, self.p_has_org), self.p_org
        if name == "p.account":
            return self.aws, self.p_account
        if name == "p.arn":
            return self.aws, self.p_arn
        if name == "p.is_service":
            return z3.BoolVal(True), z3.If(self.is_service, z3.StringVal("true"), z3.StringVal("false"))
        if name == "p.service":
            return self.is_service, self.service
        if name == "r.account":
            return z3.BoolVal(True), self.r_account
        return self.r_has_org, self.r_org


# -- statements --------------------------------------------------------------------------

def unmodelled(st: Statement) -> bool:
    """Whether a statement rests on something the analysis does not model."""
    for c in st.conditions:
        if (c.key.lower() not in KEYS or c.base not in MODELLED
                or any(VARIABLE.search(v) for v in c.values)):
            return True
    return any(VARIABLE.search(r) for r in st.resources)


def _one(base: str, value: Any, want: str) -> z3.BoolRef:
    """The positive test of one policy value against the request's value."""
    if base in ("StringEquals", "StringNotEquals"):
        if isinstance(value, Arn):
            parts = want.split(":", 5)
            if len(parts) == 6:   # the fixed components of a principal ARN hold no ":"
                return z3.And(*[equals(v, p) for v, p in zip(value.parts, parts, strict=True)])
            return value.whole() == z3.StringVal(want)
        return equals(value, want)
    if base == "Bool":   # the request's Bool values are "true" / "false"
        return value == z3.StringVal(want.lower()) if not isinstance(value, str) else z3.BoolVal(
            value == want.lower())
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return equals(value.whole() if isinstance(value, Arn) else value, want, ignore_case=True)
    if base in ("StringLike", "StringNotLike"):
        return string_matches_arn(value, want) if isinstance(value, Arn) else matches(value, want)
    return arn_matches(value, want) if isinstance(value, Arn) else string_arn_match(value, want)


def clause(c: ConditionClause, req: Request) -> z3.BoolRef:
    """A modelled condition clause as a formula (IAM's rules for missing keys and lists)."""
    present, value = req.key(KEYS[c.key.lower()])
    if c.base == "Null":
        wanted = {v.lower() for v in c.values}
        return z3.If(present, z3.BoolVal("false" in wanted), z3.BoolVal("true" in wanted))
    hit = z3.Or(*[_one(c.base, value, want) for want in c.values])
    test = z3.Not(hit) if c.base in NEGATED else hit
    if c.if_exists or c.qualifier == "ForAllValues":
        missing = True
    elif c.qualifier == "ForAnyValue":
        missing = False
    else:
        missing = c.base in NEGATED
    return z3.If(present, test, z3.BoolVal(missing))


def principal_entries(entries: Iterable[tuple[str, str]], req: Request) -> z3.BoolRef:
    out: list[z3.BoolRef] = []
    for kind, value in entries:
        if kind == "*" or (kind == "AWS" and value == "*"):
            return z3.BoolVal(True)
        if kind == "AWS":
            root = ROOT.match(value)
            if ACCOUNT.match(value) or root:
                out.append(z3.And(req.aws, req.p_account == z3.StringVal(root.group(1) if root else value)))
            elif value.startswith("arn:") and _foreign_account(value):
                pass  # arn:aws:iam::cloudfront:user/... names no account's principal
            elif value.startswith("arn:") or WILD.match(value):
                out.append(z3.And(req.aws, arn_matches(req.p_arn, value)))
            # anything else (a unique id) is no ARN: it matches no principal of the domain
        elif kind == "Service":
            out.append(z3.And(req.is_service, matches(req.service, value, ignore_case=True)))
        elif kind == "Federated":
            out.append(z3.And(req.kind == FEDERATED, req.name == z3.StringVal(value)))
        else:
            out.append(z3.And(req.kind == CANONICAL, req.name == z3.StringVal(value)))
    return z3.Or(*out) if out else z3.BoolVal(False)


def _foreign_account(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and bool(parts[4]) and not WILD.search(parts[4]) and not ACCOUNT.match(parts[4])


def action_matches(pattern: str, req: Request) -> z3.BoolRef:
    if pattern == "*":
        return z3.BoolVal(True)
    service, _, name = pattern.lower().partition(":")
    return z3.And(matches(req.a_service, service), matches(req.a_name, name))


def statement(st: Statement, req: Request, drop_unmodelled: bool = True) -> z3.BoolRef:
    """The statement matches the request (unmodelled clauses read as holding)."""
    p = principal_entries(st.principals, req)
    a = z3.Or(*[action_matches(x, req) for x in st.actions])
    r = arn_any(req.r_arn, [VARIABLE.sub("*", x) for x in st.resources])
    conds = [clause(c, req) for c in st.conditions
             if c.key.lower() in KEYS and c.base in MODELLED and not any(VARIABLE.search(v) for v in c.values)]
    return z3.And(z3.Not(p) if st.not_principal else p, z3.Not(a) if st.not_action else a,
                  z3.Not(r) if st.not_resource else r, *conds)


def allowed(policy: Policy, req: Request, mode: str = "upper") -> z3.BoolRef:
    """IAM's decision within the policy: some Allow matches and no Deny does."""
    allows, denies = [], []
    for st in policy.statements:
        um = unmodelled(st)
        if st.effect == "Allow" and not (um and mode == "lower"):
            allows.append(statement(st, req))
        elif st.effect == "Deny" and not (um and mode == "upper"):
            denies.append(statement(st, req))
    return z3.And(z3.Or(*allows) if allows else z3.BoolVal(False), z3.Not(z3.Or(*denies)) if denies else True)


# -- names and allowlists -------------------------------------------------------------------

def split_ids(items: Iterable[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(accounts, organisations, ARN patterns, other names) of an allowlist: the tool's own
    reading (`auditor.analyze.policy`). How an allowlist is written is part of the question
    asked, not of the answer, so oracle and analyzer read it alike; what is allowed outside it
    is z3's to decide."""
    return _split_ids(items)


@dataclass
class Named:
    """The values a policy names, per attribute (patterns: a pattern names what it matches)."""

    accounts: set[str]
    orgs: set[str]
    orgs_ci: set[str]     # named by a ...IgnoreCase operator: every spelling
    resource_accounts: set[str]
    resource_orgs: set[str]
    scoped_resources: set[str]
    services: set[str]
    action_services: set[str]


def _open(pattern: str) -> bool:
    if pattern == "*":
        return True
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return not re.sub(r"[*?]", "", pattern)
    return bool(WILD.search(parts[4])) or (parts[4] == "" and not re.sub(r"[*?/]", "", parts[5]))


def names_of(policy: Policy) -> Named:
    n = Named(set(), set(), set(), set(), set(), set(), set(), set())

    def principal_arn(value: str) -> None:
        root = ROOT.match(value)
        if ACCOUNT.match(value) or root:
            n.accounts.add(root.group(1) if root else value)
            return
        parts = value.split(":", 5)
        if len(parts) == 6 and ACCOUNT.match(parts[4]):
            n.accounts.add(parts[4])

    for st in policy.statements:
        for kind, value in st.principals:
            if kind == "AWS" and value != "*":
                principal_arn(value)
            elif kind == "Service":
                n.services.add(value.lower())
        for r in st.resources:
            if r == "*":
                continue
            parts = r.split(":", 5)
            if len(parts) == 6 and r.startswith("arn:") and parts[4] and not WILD.search(parts[4]):
                n.resource_accounts.add(parts[4])
            pattern = VARIABLE.sub("*", r)
            if not _open(pattern):
                n.scoped_resources.add(pattern)
        for a in st.actions:
            if a != "*":
                n.action_services.add(a.partition(":")[0].lower())
        for c in st.conditions:
            attr = KEYS.get(c.key.lower())
            if attr is None or c.base in ("Null", "Bool"):
                continue
            for v in c.values:
                if VARIABLE.search(v):
                    continue
                if attr == "p.arn":
                    principal_arn(v)
                elif attr == "p.service":
                    n.services.add(v.lower())
                elif attr == "p.account":
                    n.accounts.add(v)
                elif attr == "p.org":
                    (n.orgs_ci if "IgnoreCase" in c.base else n.orgs).add(v)
                elif attr == "r.account":
                    n.resource_accounts.add(v)
                elif attr == "r.org":
                    n.resource_orgs.add(v)
    return n


def _named(value: Any, patterns: Iterable[str], ci: Iterable[str] = ()) -> z3.BoolRef:
    exact = [matches(value, p) for p in sorted(patterns)]
    return z3.Or(*exact, *[z3.InRe(value, glob(p, ignore_case=True)) for p in sorted(ci)])


# -- the oracle ------------------------------------------------------------------------------

class Oracle:
    """The z3 questions for one policy. `catalogue` is the action catalogue the analyzer
    expands against (the same object), `extra_actions` the action patterns of the allowlists
    that will be asked (they widen the known services listed to z3)."""

    def __init__(self, policy: Policy, catalogue: Any, extra_actions: Sequence[str] = (), timeout_ms: int = 20000):
        self.policy = policy
        self.catalogue = catalogue
        self.req = Request()
        self.names = names_of(policy)
        self.timeout_ms = timeout_ms
        patterns = [a for st in policy.statements for a in st.actions] + list(extra_actions)
        self.literals = {a.lower() for a in patterns if a != "*" and not WILD.search(a)}
        self.known = set(catalogue.services())
        services: list[str] = []
        for p in patterns:
            if p == "*":
                continue
            svc = p.partition(":")[0].lower()
            services += [s for s in self.known if py_glob(svc).fullmatch(s)] if WILD.search(svc) else (
                [svc] if svc in self.known else [])
        self.listed = sorted(set(services))
        self.pattern_services = {p.partition(":")[0].lower() for p in patterns if p != "*"}
        self._solver: z3.Solver | None = None
        self._allowed: dict[str, z3.BoolRef] = {}

    # the domain
    def action_domain(self) -> z3.BoolRef:
        req = self.req
        options = [z3.And(*[req.a_service != z3.StringVal(s) for s in self.listed])]
        for s in self.listed:
            names = sorted({a.partition(":")[2].lower() for a in self.catalogue.actions(s)})
            names += sorted({a.partition(":")[2] for a in self.literals if a.partition(":")[0] == s} - set(names))
            if names:
                options.append(z3.And(req.a_service == z3.StringVal(s),
                                      z3.Or(*[req.a_name == z3.StringVal(x) for x in names])))
        return z3.Or(*options)

    def base(self) -> list[z3.BoolRef]:
        return [*self.req.domain(), self.action_domain()]

    def allowed(self, mode: str = "upper") -> z3.BoolRef:
        if mode not in self._allowed:
            self._allowed[mode] = allowed(self.policy, self.req, mode)
        return self._allowed[mode]

    # scopes
    def principal_outside(self, allowed_ids: Sequence[str]) -> z3.BoolRef:
        req = self.req
        if not allowed_ids:
            return z3.And(req.aws, z3.Not(_named(req.p_account, self.names.accounts)),
                          z3.Or(z3.Not(req.p_has_org), z3.Not(_named(req.p_org, self.names.orgs, self.names.orgs_ci))))
        accounts, orgs, arns, names = split_ids(allowed_ids)
        within_aws = z3.Or(*[req.p_account == z3.StringVal(a) for a in accounts],
                           *[z3.And(req.p_has_org, req.p_org == z3.StringVal(o)) for o in orgs],
                           *[arn_matches(req.p_arn, a) for a in arns])
        within_service = z3.Or(*[matches(req.service, n, ignore_case=True) for n in names])
        within_other = z3.Or(*[matches(req.name, n, ignore_case=True) for n in names])
        return z3.Not(z3.If(req.aws, within_aws, z3.If(req.is_service, within_service, within_other)))

    def action_outside(self, allowed_patterns: Sequence[str]) -> z3.BoolRef:
        req = self.req
        if not allowed_patterns:
            return z3.BoolVal(False)
        constrained = {a.partition(":")[0].lower() if a != "*" else "*" for a in allowed_patterns}
        in_scope = z3.BoolVal(True) if "*" in constrained else z3.Or(
            *[req.a_service == z3.StringVal(s) for s in sorted(constrained)])
        return z3.And(in_scope, z3.Not(z3.Or(*[action_matches(a, req) for a in allowed_patterns])))

    def resource_outside(self, allowed_ids: Sequence[str]) -> z3.BoolRef:
        req = self.req
        if not allowed_ids:
            return z3.And(z3.Not(_named(req.r_account, self.names.resource_accounts)),
                          z3.Or(z3.Not(req.r_has_org), z3.Not(_named(req.r_org, self.names.resource_orgs))),
                          z3.Not(arn_any(req.r_arn, sorted(self.names.scoped_resources))))
        if "*" in allowed_ids:
            return z3.BoolVal(False)
        accounts, orgs, arns, _ = split_ids(allowed_ids)
        return z3.Not(z3.Or(*[req.r_account == z3.StringVal(a) for a in accounts],
                            *[z3.And(req.r_has_org, req.r_org == z3.StringVal(o)) for o in orgs],
                            arn_any(req.r_arn, arns)))

    # solving
    def solve(self, *formulas: z3.BoolRef) -> z3.ModelRef | None:
        """A model of the domain and `formulas`, or None when there is none. Raises
        RuntimeError when z3 cannot decide (never read as an answer). One incremental solver
        per policy holds the domain; each question is pushed and popped."""
        if self._solver is None:
            self._solver = z3.Solver()
            self._solver.set("timeout", self.timeout_ms)
            self._solver.add(*self.base())
        solver = self._solver
        solver.push()
        try:
            solver.add(*formulas)
            result = solver.check()
            if result == z3.unknown:
                raise RuntimeError(f"z3 could not decide: {solver.reason_unknown()}")
            return solver.model() if result == z3.sat else None
        finally:
            solver.pop()

    def is_default(self) -> tuple[bool, z3.ModelRef | None]:
        """(every request allowed in lower mode, a request that is not)."""
        model = self.solve(z3.Not(self.allowed("lower")))
        return model is None, model

    def outside(self, scope: z3.BoolRef, *extra: z3.BoolRef) -> z3.ModelRef | None:
        """An allowed (upper mode) request within `extra` for which `scope` (outside) holds."""
        return self.solve(self.allowed("upper"), scope, *extra)

    def describe(self, model: z3.ModelRef) -> str:
        """A model as a readable request (for failure messages)."""
        r = self.req

        def v(x: Any) -> str:
            return str(model.eval(x, model_completion=True))

        kind = int(str(model.eval(r.kind, model_completion=True)))
        if kind == AWS:
            org = v(r.p_org) if z3.is_true(model.eval(r.p_has_org, model_completion=True)) else "(no org)"
            who = f"AWS principal {v(r.p_arn.whole())} account {v(r.p_account)} org {org}"
        elif kind == SERVICE:
            who = f"service principal {v(r.service)}"
        else:
            who = f"{'federated' if kind == FEDERATED else 'canonical'} {v(r.name)}"
        rorg = v(r.r_org) if z3.is_true(model.eval(r.r_has_org, model_completion=True)) else "(no org)"
        return (f"{v(r.a_service)}:{v(r.a_name)} by {who} on {v(r.r_arn.whole())} "
                f"(account {v(r.r_account)}, org {rorg})")

    # counter-examples written by the analyzer, read back
    def counter_example(self, text: str, org_labels: Sequence[str] = ()) -> z3.BoolRef:
        """The request set an analyzer counter-example describes, as a formula. Raises
        ValueError on a text it cannot read (a test failure, never a pass)."""
        text = re.sub(r" \(allowed by statement .*\)$", "", text)
        m = re.fullmatch(r"(any action|any other \S+ action|\S+) by (.+?) on (.+)", text, re.DOTALL)
        if not m:
            raise ValueError(f"cannot read counter-example {text!r}")
        action, who, where = m.groups()
        return z3.And(self._action_text(action), self._principal_text(who, org_labels), self._resource_text(where))

    def _fresh_service(self) -> z3.BoolRef:
        req = self.req
        return z3.And(*[z3.Not(matches(req.a_service, s)) for s in sorted(self.pattern_services | set(self.listed))])

    def _action_text(self, text: str) -> z3.BoolRef:
        req = self.req
        if text == "any action":
            return self._fresh_service()
        m = re.fullmatch(r"any other (\S+) action", text)
        if m:
            s = m.group(1).lower()
            known = {a.partition(":")[2].lower() for a in self.catalogue.actions(s)}
            known |= {a.partition(":")[2] for a in self.literals if a.partition(":")[0] == s}
            return z3.And(req.a_service == z3.StringVal(s), *[req.a_name != z3.StringVal(k) for k in sorted(known)])
        service, _, name = text.lower().partition(":")
        return z3.And(req.a_service == z3.StringVal(service), req.a_name == z3.StringVal(name))

    def _org_suffix(self, text: str, labels: Iterable[str]) -> tuple[str, str | None]:
        for label in sorted(labels, key=len, reverse=True):
            if text.endswith(f" in {label}"):
                return text[:-len(label) - 4], label
        return text, None

    def _principal_text(self, text: str, labels: Sequence[str]) -> z3.BoolRef:
        req = self.req
        unnamed_account = z3.Not(_named(req.p_account, self.names.accounts))
        unnamed_org = z3.Or(z3.Not(req.p_has_org), z3.Not(_named(req.p_org, self.names.orgs, self.names.orgs_ci)))
        if text == "any AWS service principal":
            return z3.And(req.is_service, *[z3.Not(matches(req.service, s, ignore_case=True))
                                            for s in sorted(self.names.services)])
        m = re.fullmatch(r"AWS service principal (.+)", text)
        if m:
            return z3.And(req.is_service, matches(req.service, m.group(1), ignore_case=True))
        m = re.fullmatch(r"any (federated principal|canonical user)", text)
        if m:   # one the policy does not name
            kind, element = ((FEDERATED, "Federated") if m.group(1) == "federated principal" else
                             (CANONICAL, "CanonicalUser"))
            named = [v for st in self.policy.statements for k, v in st.principals if k == element]
            return z3.And(req.kind == kind, *[req.name != z3.StringVal(v) for v in named])
        m = re.fullmatch(r"(federated principal|canonical user) (.+)", text)
        if m:
            return z3.And(req.kind == (FEDERATED if m.group(1) == "federated principal" else CANONICAL),
                          req.name == z3.StringVal(m.group(2)))
        if text in ("any principal", "any principal outside every organisation") or text.startswith(
                "a principal outside "):
            extra = [z3.Not(req.p_has_org)] if text.endswith("every organisation") else []
            return z3.And(req.aws, unnamed_account, unnamed_org, *extra)
        rest, org = self._org_suffix(text, [*labels, *self.names.orgs, *self.names.orgs_ci])
        org_f = z3.And(req.p_has_org, _named(req.p_org, [org], [org] if org in self.names.orgs_ci else [])
                       ) if org else unnamed_org
        m = re.fullmatch(r"a principal in account (\d{12})", rest)
        if m:
            return z3.And(req.aws, req.p_account == z3.StringVal(m.group(1)), org_f)
        if rest == "a principal" and org:
            return z3.And(req.aws, unnamed_account, org_f)
        m = re.fullmatch(r"principal (.+)", rest)
        if m:
            return z3.And(req.aws, arn_matches(req.p_arn, m.group(1)), org_f)
        raise ValueError(f"cannot read principal {text!r}")

    def _resource_text(self, text: str) -> z3.BoolRef:
        req = self.req
        rest, org = self._org_suffix(text, self.names.resource_orgs)
        org_f = z3.And(req.r_has_org, matches(req.r_org, org)) if org else z3.Or(
            z3.Not(req.r_has_org), z3.Not(_named(req.r_org, self.names.resource_orgs)))
        unnamed_account = z3.Not(_named(req.r_account, self.names.resource_accounts))
        if text == "any resource" or text.startswith("a resource outside "):
            return self.resource_outside([])
        if rest == "a resource" and org:
            return z3.And(unnamed_account, org_f)
        m = re.fullmatch(r"a resource in account (\S+)", rest)
        if m:
            return z3.And(req.r_account == z3.StringVal(m.group(1)), org_f)
        m = re.fullmatch(r"(.+?)(?: in account (\S+))?", rest)
        if m:
            account = [req.r_account == z3.StringVal(m.group(2))] if m.group(2) else []
            return z3.And(arn_matches(req.r_arn, m.group(1)), *account, org_f)
        raise ValueError(f"cannot read resource {text!r}")


# -- analyzer against oracle ------------------------------------------------------------------

@dataclass
class Tally:
    policies: int = 0
    questions: int = 0
    agreements: int = 0
    confirmed: int = 0
    failures: list[str] = field(default_factory=list)


def compare(name: str, policy: Policy, principals: list[str], actions: list[str], resources: list[str],
            catalogue: Any, tally: Tally) -> None:
    """Ask analyzer and oracle the six questions of one policy; record agreements and failures."""
    oracle = Oracle(policy, catalogue, actions)
    tally.policies += 1

    def fail(question: str, analyzer: Any, model: z3.ModelRef | None, why: str) -> None:
        tally.failures.append(f"{name} {question}: {why}\n  policy: {json.dumps(document_of(policy))}\n"
                              f"  analyzer: {analyzer!r}\n  z3: {oracle.describe(model) if model else None}")

    tally.questions += 1
    default, model = oracle.is_default()
    if default == analyze(policy, catalogue).default_full_access:
        tally.agreements += 1
    else:
        fail("default", not default, model, "default full access")

    questions = [
        ("principals []", principals_outside(policy, [], catalogue), oracle.principal_outside([]), []),
        (f"principals {principals}", principals_outside(policy, principals, catalogue),
         oracle.principal_outside(principals), principals),
        (f"actions {actions}", actions_outside(policy, actions, catalogue), oracle.action_outside(actions), []),
        ("resources []", resources_outside(policy, [], catalogue), oracle.resource_outside([]), []),
        (f"resources {resources}", resources_outside(policy, resources, catalogue),
         oracle.resource_outside(resources), []),
    ]
    for question, answer, outside, labels in questions:
        tally.questions += 1
        if answer is None:
            model = oracle.outside(outside)
            if model is None:
                tally.agreements += 1
            else:
                fail(question, answer, model, "the analyzer says within; z3 finds an allowed request outside")
            continue
        try:
            example = oracle.counter_example(answer, [x for x in labels if x.startswith("o-")])
        except ValueError as exc:
            fail(question, answer, None, str(exc))
            continue
        confirmed = oracle.outside(outside, example)
        if confirmed is not None:
            tally.agreements += 1
            tally.confirmed += 1
            continue
        model = oracle.outside(outside)
        fail(question, answer, model, "z3 finds no allowed request outside" if model is None else
             "the counter-example is not an allowed request outside (z3 finds another)")


def document_of(policy: Policy) -> dict[str, Any]:
    """The parsed policy back as a document (for failure messages)."""
    def one(st: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"Effect": st.effect}
        principal: Any = "*" if st.principals == (("*", "*"),) else {}
        if principal != "*":
            for kind, value in st.principals:
                principal.setdefault(kind, []).append(value)
        out["NotPrincipal" if st.not_principal else "Principal"] = principal
        out["NotAction" if st.not_action else "Action"] = list(st.actions)
        out["NotResource" if st.not_resource else "Resource"] = list(st.resources)
        if st.conditions:
            block: dict[str, dict[str, list[str]]] = {}
            for c in st.conditions:
                block.setdefault(c.operator, {})[c.key] = list(c.values)
            out["Condition"] = block
        return out
    return {"Statement": [one(st) for st in policy.statements]}


