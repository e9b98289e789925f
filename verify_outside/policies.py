"""The endpoint-policy analyzer against z3 and the policy corpora with known answers.

    python verify_outside/policies.py DIR

DIR holds `external-oracles/` (quacky, iamspy, parliament: README section 2 there) and
`data-perimeter-policies/`. Outside data: read where it lives, never copied into the project.

- Every policy document of the corpora that the analyzer parses gets the six questions of
  tests/test_policy_smt.py (default? principals outside [] and a trusted list, actions outside an
  allowlist, resources outside [] and a list), analyzer against the z3 oracle (tests/policy_smt.py,
  the one translation), each counter-example confirmed by z3. Identity policies have no
  Principal: the analyzer reads a missing Principal as "*" (and notes it), and so does this check.
- quacky's relation pairs (og.yaml, mutations.yaml): the relation between the requests two
  policies allow, by the analyzer (over one universe built from both) and by z3, against each
  other and against quacky's stated relation (not applicable where a policy has conditions
  neither models, where quacky marks the pair disputed, or where the analyzer cannot parse one).
- iamspy's can_i cases with a resource policy: the resource policy's own decision on the
  request, by the analyzer and by z3, against each other and against IAMSpy's decision where
  the resource policy alone decides it (an explicit Deny; a cross-account Allow). IAMSpy's
  documents write an AWS principal as a bare string, which IAM refuses: read as {"AWS": ...}
  as IAMSpy reads it (`iamspy_document`).
- parliament's cases: malformed documents (not JSON, or MALFORMED) must be refused by the
  parser, every other one accepted.

One line per policy, pair or case (AGREE, DISAGREE or "not applicable" with the reason), then
totals per corpus. Exit 0 when nothing disagrees, 1 when something does, 2 on a bad folder.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "verify_outside")]

import yaml  # noqa: E402
import z3  # noqa: E402

from auditor.analyze.iam_actions import default_catalogue  # noqa: E402
from auditor.analyze.policy import (  # noqa: E402
    Policy, PolicyError, PrincipalCandidate, ResourceCandidate, Universe, build_universe, grants, parse_policy,
)
from policy_smt import Oracle, Request, Tally, allowed, compare, unmodelled  # noqa: E402

ORACLES = "external-oracles"
PERIMETER = "data-perimeter-policies"
CORPORA = ("quacky", "iamspy", "parliament")
ORG = "o-abc1234567"
TRUSTED = [ORG, "111111111111", "*.amazonaws.com"]
ACTIONS = ["s3:Get*", "sqs:SendMessage"]
RESOURCES = ["111111111111", ORG]


class Usage(Exception):
    """The folder given is not the outside-data folder."""


def check_folder(root: Path) -> None:
    missing = [str(p) for p in (*(root / ORACLES / c for c in CORPORA), root / PERIMETER / "vpc_endpoint_policies")
               if not p.is_dir()]
    if missing:
        raise Usage(f"{root}: not the outside-data folder (it holds external-oracles/ and data-perimeter-policies/); "
                    f"missing: {', '.join(missing)}")


def _documents(value: Any) -> Iterator[Any]:
    """Every policy document inside a JSON value (a dict with a Statement)."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield value
            return
        for v in value.values():
            yield from _documents(v)
    elif isinstance(value, list):
        for v in value:
            yield from _documents(v)


def iamspy_document(doc: Any) -> Any:
    """IAMSpy's fixtures write an AWS principal as a bare string (``"Principal": "arn:..."``),
    which IAM refuses and our parser too; IAMSpy reads it as ``{"AWS": "arn:..."}``, and so
    does this check (for IAMSpy's documents only)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("Statement"), (list, dict)):
        return doc
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    fixed = []
    for st in statements:
        if isinstance(st, dict):
            st = dict(st)
            for key in ("Principal", "NotPrincipal"):
                if isinstance(st.get(key), str) and st[key] != "*":
                    st[key] = {"AWS": st[key]}
        fixed.append(st)
    return {**doc, "Statement": fixed}


def corpus_policies(root: Path) -> Iterator[tuple[str, str, Any]]:
    """(corpus, name, document or JSON text) of every policy of the corpora."""
    quacky = root / ORACLES / "quacky" / "samples"
    for path in sorted(quacky.rglob("*.json")):
        if path.name == "domain.json":   # manual_s3's request domains, not policies
            continue
        yield "quacky", str(path.relative_to(root / ORACLES)), path.read_text(encoding="utf-8")
    for path in sorted((root / ORACLES / "iamspy" / "files").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for i, doc in enumerate(_documents(data)):
            yield "iamspy", f"{path.relative_to(root / ORACLES)}#{i}", iamspy_document(doc)
    for path in sorted((root / ORACLES / "parliament" / "cases").glob("*.json")):
        yield "parliament", str(path.relative_to(root / ORACLES)), path.read_text(encoding="utf-8")
    from test_data_perimeter import SUBSTITUTIONS
    for folder in ("vpc_endpoint_policies", "resource_control_policies"):
        for path in sorted((root / PERIMETER / folder).glob("*.json")):
            text = path.read_text(encoding="utf-8")
            for placeholder, value in SUBSTITUTIONS.items():
                text = text.replace(placeholder, value)
            yield "data-perimeter", f"{folder}/{path.name}", text


# -- the checks ---------------------------------------------------------------------------------

Line = tuple[str, str, str, str]   # corpus, what, verdict (AGREE / DISAGREE / not applicable), reason


def policy_lines(root: Path) -> Iterator[Line]:
    cat = default_catalogue()
    for corpus, name, doc in corpus_policies(root):
        try:
            policy = parse_policy(doc)
        except PolicyError as exc:
            yield corpus, name, "not applicable", f"the parser refuses it: {exc}"
            continue
        tally = Tally()
        try:
            compare(name, policy, TRUSTED, ACTIONS, RESOURCES, cat, tally)
        except RuntimeError as exc:
            yield corpus, name, "DISAGREE", str(exc)
            continue
        if tally.failures:
            yield corpus, name, "DISAGREE", " | ".join(f.replace("\n", " ") for f in tally.failures)
        else:
            yield corpus, name, "AGREE", (f"{tally.questions} questions, {tally.confirmed} counter-examples "
                                          "confirmed by z3")


RELATIONS = {(False, False): "equivalent", (True, False): "first_is_superset",
             (False, True): "first_is_subset", (True, True): "incomparable"}


def relation_z3(p1: Policy, p2: Policy, cat: Any) -> str:
    both = Policy(p1.statements + p2.statements)
    oracle = Oracle(both, cat)
    a1, a2 = allowed(p1, oracle.req), allowed(p2, oracle.req)
    return RELATIONS[(oracle.solve(a1, z3.Not(a2)) is not None, oracle.solve(a2, z3.Not(a1)) is not None)]


def relation_analyzer(p1: Policy, p2: Policy, cat: Any) -> str:
    universe = build_universe([p1, p2], catalogue=cat)
    g1, g2 = grants(p1, universe), grants(p2, universe)
    return RELATIONS[(bool(g1 - g2), bool(g2 - g1))]


def quacky_pairs(root: Path) -> Iterator[tuple[str, str, str, str, bool]]:
    """(id, policy 1 path, policy 2 path, relation, disputed) of quacky's stated relations."""
    base = root / ORACLES / "quacky"
    og = yaml.safe_load((base / "expectations" / "og.yaml").read_text(encoding="utf-8"))
    for case in og["cases"]:
        yield case["id"], case["policy_1"], case["policy_2"], case["relation"], bool(case.get("disputed"))
    mutations = yaml.safe_load((base / "expectations" / "mutations.yaml").read_text(encoding="utf-8"))
    for family in mutations["families"]:
        for pair in family["pairs"]:
            yield (f"{family['id']} vs {Path(pair['mutant']).name}", family["original"], pair["mutant"],
                   pair["relation"], bool(pair.get("disputed")))


def quacky_lines(root: Path) -> Iterator[Line]:
    cat = default_catalogue()
    base = root / ORACLES / "quacky"
    for pid, first, second, relation, disputed in quacky_pairs(root):
        try:
            p1 = parse_policy((base / first).read_text(encoding="utf-8"))
            p2 = parse_policy((base / second).read_text(encoding="utf-8"))
        except PolicyError as exc:
            yield "quacky-relations", pid, "not applicable", f"the parser refuses a policy: {exc}"
            continue
        try:
            ours, solver = relation_analyzer(p1, p2, cat), relation_z3(p1, p2, cat)
        except RuntimeError as exc:   # z3 undecided: never read as an answer
            yield "quacky-relations", pid, "DISAGREE", str(exc)
            continue
        if ours != solver:
            yield "quacky-relations", pid, "DISAGREE", f"analyzer {ours}, z3 {solver} (quacky {relation})"
        elif any(unmodelled(st) for st in p1.statements + p2.statements):
            yield "quacky-relations", pid, "not applicable", (
                f"conditions neither models (analyzer and z3 both {ours}, read in the allowing direction; "
                f"quacky {relation})")
        elif disputed:
            yield "quacky-relations", pid, "not applicable", f"quacky marks it disputed (analyzer and z3 {ours})"
        elif ours != relation:
            yield "quacky-relations", pid, "DISAGREE", f"analyzer and z3 {ours}, quacky {relation}"
        else:
            yield "quacky-relations", pid, "AGREE", relation


def _arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def decide(policy: Policy, principal: str, action: str, resource: str, owner: str, cat: Any) -> tuple[bool, bool]:
    """(analyzer, z3): does the policy alone allow this concrete request (no org on either side)?"""
    account = _arn_account(principal)
    universe = Universe((PrincipalCandidate("aws", account, None, principal, account_named=True),), (action,),
                        (ResourceCandidate(resource, owner, None, account_named=True),))
    ours = bool(grants(policy, universe))
    oracle = Oracle(policy, cat, [action])
    req: Request = oracle.req
    p, r = principal.split(":", 5), resource.split(":", 5)
    service, _, name = action.lower().partition(":")
    concrete = [req.kind == 0, req.p_account == z3.StringVal(account), z3.Not(req.p_has_org),
                req.p_sts == z3.BoolVal(p[2] == "sts"), req.p_rest == z3.StringVal(p[5]),
                req.a_service == z3.StringVal(service), req.a_name == z3.StringVal(name),
                req.r_partition == z3.StringVal(r[1]), req.r_service == z3.StringVal(r[2]),
                req.r_region == z3.StringVal(r[3]), req.r_field == z3.StringVal(r[4]),
                req.r_rest == z3.StringVal(r[5]), req.r_account == z3.StringVal(owner), z3.Not(req.r_has_org)]
    return ours, oracle.solve(oracle.allowed(), *concrete) is not None


def iamspy_lines(root: Path) -> Iterator[Line]:
    cat = default_catalogue()
    base = root / ORACLES / "iamspy"
    expectations = yaml.safe_load((base / "expectations.yaml").read_text(encoding="utf-8"))
    for case in expectations["cases"]:
        inputs, request = case["inputs"], case.get("request")
        if case["query"] != "can_i" or not inputs.get("resources") or request is None:
            yield "iamspy", case["id"], "not applicable", (
                "no resource policy in the case" if case["query"] == "can_i" else f"a {case['query']} query "
                "(asks about every principal of the account data, not one resource policy)")
            continue
        entries = [e for f in inputs["resources"] for e in json.loads((base / f).read_text(encoding="utf-8"))]
        entry = next((e for e in entries if e.get("Resource") == request["resource"]), None)
        if entry is None:
            yield "iamspy", case["id"], "not applicable", "no resource policy on the requested resource"
            continue
        try:
            policy = parse_policy(iamspy_document(entry["Policy"]))
        except PolicyError as exc:
            yield "iamspy", case["id"], "not applicable", f"the parser refuses the resource policy: {exc}"
            continue
        try:
            ours, solver = decide(policy, request["principal"], request["action"], request["resource"],
                                  str(entry.get("Account") or _arn_account(request["resource"])), cat)
        except RuntimeError as exc:
            yield "iamspy", case["id"], "DISAGREE", str(exc)
            continue
        expected = bool(case["expected_allowed"])
        said = f"analyzer {'allows' if ours else 'does not allow'}, z3 {'allows' if solver else 'does not allow'}, " \
               f"IAMSpy {'allowed' if expected else 'denied'}"
        cross = _arn_account(request["principal"]) != str(entry.get("Account") or "")
        denies = any(st.effect == "Deny" for st in policy.statements)
        if ours != solver:
            yield "iamspy", case["id"], "DISAGREE", said
        elif ours == expected:
            yield "iamspy", case["id"], "AGREE", said
        elif expected and cross:
            yield "iamspy", case["id"], "DISAGREE", said + " (cross-account: the resource policy must allow)"
        elif not expected and ours and not denies:
            yield "iamspy", case["id"], "not applicable", said + " (denied by identity policies, boundaries or SCPs)"
        elif expected and not cross:
            yield "iamspy", case["id"], "not applicable", said + " (same account: an identity policy suffices)"
        else:
            yield "iamspy", case["id"], "DISAGREE", said


def parliament_lines(root: Path) -> Iterator[Line]:
    base = root / ORACLES / "parliament"
    expectations = yaml.safe_load((base / "expectations.yaml").read_text(encoding="utf-8"))
    for case in expectations["cases"]:
        malformed = not case.get("valid_json", True) or "MALFORMED" in case.get("expected_finding_ids", [])
        try:
            parse_policy((base / case["policy_file"]).read_text(encoding="utf-8"))
            refused = ""
        except PolicyError as exc:
            refused = str(exc)
        verdict = "AGREE" if bool(refused) == malformed else "DISAGREE"
        said = f"parser {'refuses it: ' + refused if refused else 'accepts it'}; parliament: " \
               f"{'malformed' if malformed else 'well-formed'} ({', '.join(case.get('expected_finding_ids', [])) or 'no findings'})"
        yield "parliament-lint", case["id"], verdict, said


def every_line(root: Path) -> Iterator[Line]:
    check_folder(root)
    yield from policy_lines(root)
    yield from quacky_lines(root)
    yield from iamspy_lines(root)
    yield from parliament_lines(root)


def main(argv: list[str]) -> int:
    from auditor.console import echo

    if len(argv) != 1:
        echo("usage: python verify_outside/policies.py DIR (the folder holding external-oracles/ and "
             "data-perimeter-policies/)", err=True)
        return 2
    totals: Counter[tuple[str, str]] = Counter()
    try:
        for corpus, what, verdict, reason in every_line(Path(argv[0])):
            totals[(corpus, verdict)] += 1
            echo(f"{verdict:<14} {corpus:<16} {what}: {reason}")
    except Usage as exc:
        echo(str(exc), err=True)
        return 2
    echo("")
    for corpus in dict.fromkeys(c for c, _ in totals):
        echo(f"{corpus}: " + ", ".join(f"{totals[(corpus, v)]} {v}" for v in ("AGREE", "DISAGREE", "not applicable")))
    disagree = sum(n for (_, v), n in totals.items() if v == "DISAGREE")
    agree = sum(n for (_, v), n in totals.items() if v == "AGREE")
    echo(f"total: {sum(totals.values())} checked, {agree} agree, {disagree} disagree")
    # Every corpus must contribute agreements: a corpus read as nothing is a broken check, not a pass.
    silent = [c for c in EXPECTED_CORPORA if totals[(c, "AGREE")] == 0]
    if silent or agree < 300:
        echo(f"too little was checked: no agreement from {', '.join(silent) or '-'}; {agree} agreements "
             "(at least 300 expected)", err=True)
        return 1
    return 1 if disagree else 0


EXPECTED_CORPORA = ("quacky", "iamspy", "parliament", "data-perimeter", "quacky-relations", "parliament-lint")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
