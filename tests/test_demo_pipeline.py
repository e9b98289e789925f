"""The demo estate end to end (estate format -> moto -> collector -> snapshot -> model),
in-process and over a real HTTP moto server, and the `auditor demo` command itself."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.collect.runner import collect
from auditor.config import load_config
from auditor.emulate import EmulatedAws, demo_config_path, demo_estate_path, load_estate, seed
from auditor.model import build_model
from auditor.model.types import BlockPublicAccess, RouteTable, Subnet, TransitGatewayRouteTable, Vpc
from auditor.snapshot.reader import load_snapshot
from auditor.validation import load_schema
from auditor.snapshot.writer import SnapshotWriter
from conftest import DemoRun

PAY, HEALTH = "111111111111", "222222222222"


@pytest.mark.parametrize("mode", ["inprocess", pytest.param("server", marks=pytest.mark.server)])
def test_demo_estate_collects_completely_and_models_the_planted_facts(mode: str, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    """In process: the session's demo (seeded and collected by `auditor demo`, records kept);
    over a real HTTP moto server: built and collected here."""
    if mode == "inprocess":
        demo: DemoRun = request.getfixturevalue("demo_run")
        ids, collected = demo.result.seeded, demo.result.scan.collection
        assert collected is not None
        result, snapshot = collected, demo.out / "snapshot"
    else:
        config = load_config(demo_config_path())
        with EmulatedAws(mode=mode) as emu:
            ids = seed(load_estate(demo_estate_path()), emu)
            result = collect(config, emu.session_factory(max_attempts=3), SnapshotWriter(tmp_path / "s", keep=True))
        snapshot = tmp_path / "s"
    assert result.records
    assert result.complete, result.manifest["errors"]
    assert {t["status"] for t in result.manifest["tasks"]} == {"complete"}
    assert [(t["account"], t["region"]) for t in result.manifest["tasks"]] == [
        (PAY, "eu-west-1"), (PAY, "us-east-1"), (HEALTH, "eu-west-1"), (HEALTH, "us-east-1")]
    snap = load_snapshot(snapshot)
    model = build_model(snap.records, snap.manifest["files"])
    assert model == build_model(result.records, result.manifest["files"])

    def the(kind: str, account: str, name: str, region: str = "us-east-1") -> object:
        found = model.get(kind, ids.id(account, region, kind, name), account, region)
        assert found is not None, (kind, name)
        return found

    # V1: the legacy PHI subnet has no table of its own, so its effective table is the main
    # table of *its own* VPC, whose default route goes to the transit gateway.
    legacy = the("subnet", HEALTH, "phi-legacy-a")
    assert isinstance(legacy, Subnet)
    assert legacy.route_table_association == "main"
    assert legacy.route_table_id == ids.id(HEALTH, "us-east-1", "route_table", "phi-main")
    main = the("route_table", HEALTH, "phi-main")
    assert isinstance(main, RouteTable) and main.is_main
    tgw_id = ids.id(HEALTH, "us-east-1", "transit_gateway", "health-tgw")
    assert ("0.0.0.0/0", "tgw", tgw_id) in [(r.destination, r.target_kind, r.target_id) for r in main.routes]
    assert legacy.map_public_ip_on_launch is True  # V2
    # The TGW spoke table sends the default route on to the egress VPC's attachment.
    spokes = the("transit_gateway_route_table", HEALTH, "spokes")
    assert isinstance(spokes, TransitGatewayRouteTable) and spokes.routes is not None
    egress_att = ids.id(HEALTH, "us-east-1", "transit_gateway_attachment", "health-tgw/shared-egress")
    assert ("0.0.0.0/0", "active", (egress_att,)) in [(r.destination, r.state, r.attachment_ids)
                                                       for r in spokes.routes]
    assert any(r.state == "blackhole" for r in spokes.routes)
    # The compliant PCI VPC: DNS attributes on, no internet gateway, S3 prefix list resolved.
    pci = the("vpc", PAY, "pci-cde")
    assert isinstance(pci, Vpc) and (pci.dns_support, pci.dns_hostnames) == (True, True)
    assert not [g for g in model.of("internet_gateway") if pci.id in g.attached_vpc_ids]  # type: ignore[attr-defined]
    private = the("route_table", PAY, "pci-private")
    assert isinstance(private, RouteTable)
    s3 = [r for r in private.routes if r.destination_kind == "prefix_list"]
    assert len(s3) == 1 and s3[0].target_kind == "vpce" and s3[0].destination_cidrs
    # Block Public Access as seeded (emulator extension), per account.
    bpa = {(b.account, b.region): b for b in model.of("vpc_block_public_access")}
    assert isinstance(bpa[(PAY, "us-east-1")], BlockPublicAccess)
    assert bpa[(PAY, "us-east-1")].internet_gateway_block_mode == "block-bidirectional"  # type: ignore[attr-defined]
    assert bpa[(HEALTH, "us-east-1")].internet_gateway_block_mode == "off"  # type: ignore[attr-defined]
    # V5: the PHI SQS endpoint has private DNS off and AWS's default full-access policy.
    sqs = the("vpc_endpoint", HEALTH, "phi-sqs")
    assert sqs.private_dns_enabled is False  # type: ignore[attr-defined]
    assert sqs.policy["Statement"][0]["Action"] == "*"  # type: ignore[attr-defined]


def test_auditor_demo_command(demo_run: DemoRun) -> None:
    """`auditor demo` run once as a user would (the session's demo: the command's own code in
    process, its output captured)."""
    tmp_path, proc = demo_run.root, demo_run
    assert proc.code == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"snapshot written to {tmp_path / 'demo' / 'snapshot'}" in proc.stdout
    assert f"findings written to {tmp_path / 'demo' / 'findings.json'}" in proc.stdout
    # The whole evidence bundle: every report, each printed with where it is.
    for fmt, name in {"html": "report.html", "pdf": "report.pdf", "junit": "findings.junit.xml",
                      "sarif": "findings.sarif", "csv": "findings.csv"}.items():
        assert f"{fmt} written to {tmp_path / 'demo' / name}" in proc.stdout
        assert (tmp_path / "demo" / name).stat().st_size > 1000, name
    assert f"evidence bundle written to {tmp_path / 'demo'}" in proc.stdout
    snap = load_snapshot(tmp_path / "demo" / "snapshot")
    assert snap.complete
    doc = json.loads((tmp_path / "demo" / "findings.json").read_text())
    jsonschema.validate(doc, load_schema("findings"))
    assert doc["run"]["snapshot"]["manifest_sha256"] == snap.manifest_sha256
    assert doc["summary"]["complete"] and doc["not_assessed"] == []
    # Who read each account: its own sts:GetCallerIdentity through the assumed audit role.
    assert [(a["id"], a["role_arn"], a["identity"].rsplit("/", 1)[0]) for a in doc["run"]["accounts"]] == [
        (acct, f"arn:aws:iam::{acct}:role/AuditorReadOnly", f"arn:aws:sts::{acct}:assumed-role/AuditorReadOnly")
        for acct in (PAY, HEALTH)]
    assert "NON-COMPLIANT" in proc.stdout and "`auditor scan` would exit 1" in proc.stdout
    fails = [f for f in doc["findings"] if f["status"] == "FAIL"]
    # The compliant account has no failure and nothing unassessed; the shared egress VPC is out of scope.
    assert [f["rule_id"] for f in fails if f["resource"]["account"] == PAY] == []
    assert not any(f["status"] == "ERROR" for f in doc["findings"])
    failed_rules = {f["rule_id"] for f in fails}
    # Each planted violation (estate header) is caught by its rule.
    planted = {"V1": "PN-014", "V2": "PN-007", "V3": "PN-008", "V4": "PN-010", "V5": "VE-002", "V5 policy": "EP-001",
               "V6": "VE-001", "V6 s3": "VE-006", "V7": "TF-003", "V8": "SE-002", "V9": "SE-001",
               "V10": "SE-003", "V11": "TF-006", "V12": "PN-011", "V13": "TF-001"}
    assert {v: r for v, r in planted.items() if r not in failed_rules} == {}
    missing = sorted(f["item"] for f in fails if f["rule_id"] == "VE-001")
    assert missing == ["ec2messages", "ecr.api", "ecr.dkr", "kms", "logs", "secretsmanager", "sns", "ssm",
                       "ssmmessages"]


# The demo's HTML report against a golden normalised copy ----------------------------------------

GOLDEN_DEMO = Path(__file__).parent / "golden" / "report_demo.html"
_AWS_ID = re.compile(r"\b((?:[a-z0-9]+-)+)[0-9a-f]{8,17}\b")     # vpc-0a1b..., eni-..., sgr-...
_VOLATILE = [(re.compile(r"sha256:[0-9a-f]{64}|\b[0-9a-f]{64}\b"), "<sha256>"),
             (re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?"), "<time>"),
             (re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC"), "<time>"),
             (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
             (re.compile(r"\b[0-9a-f]{20}\b"), "<fingerprint>")]


def _anonymise(text: str, names: dict[str, str]) -> str:
    """Seeded ids by their estate names, ids moto makes on its own (ENIs, rule ids, default
    groups) by their prefix, then times, dates, hashes and fingerprints: what is left does not
    depend on the clock or on how moto draws ids."""
    for aws_id in sorted(names, key=len, reverse=True):
        text = text.replace(aws_id, names[aws_id])
    text = _AWS_ID.sub(lambda m: m.group(1) + "#", text)
    for pattern, token in _VOLATILE:
        text = pattern.sub(token, text)
    return text


def _decoded_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The embedded findings rows expanded as reports/templates/report.js expands them."""
    s = data["strings"]

    def around(x: Any, rid: str) -> str:
        return s[x] if isinstance(x, int) else s[x[0]] + rid + s[x[1]]

    return [{"fp": a[0], "rule": s[a[1]], "sev": s[a[2]], "st": s[a[3]], "type": s[a[4]], "id": a[5],
             "account": s[a[6]], "region": s[a[7]], "arn": around(a[8], a[5]), "vpc": s[a[9]], "item": a[10],
             "message": around(a[11], a[5]),
             "evidence": [[s[e[0]], s[e[1]], s[e[2]], s[e[3]], [s[x[0]] + x[1] for x in e[4]]] for e in a[12]],
             "waiver": s[a[13]]} for a in data["findings"]]


_RECORD_DIGEST = re.compile(r"(.*~)[0-9a-f]{10}(\.json(?:\.gz)?)")
# The field naming a listed item, tried in order; `{}` is the list's key less its plural ending
# (VpcEndpoints -> VpcEndpointId, Addresses -> AddressId, DBInstances -> DBInstanceIdentifier).
_ITEM_KEYS = ("{}Id", "GroupId", "AllocationId", "TransitGatewayAttachmentId", "{}Arn", "{}Identifier", "{}Name")
# Addresses moto draws (public IPs, and private ones it picks in a subnet), and the fields naming
# whose they are, most specific first.
_IP_FIELD = re.compile(r"(Public|Private|Carrier)Ip(?:Address)?")
_IP_OWNERS = ("AllocationId", "InstanceId", "NatGatewayId", "NetworkInterfaceId", "VpcEndpointId")


def _alternation(words: dict[str, str], before: str, after: str) -> re.Pattern[str]:
    """One pattern matching any of `words` (longest first), `(?!)` (nothing) when there are none."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(f"{before}(?:{alternatives}){after}" if words else "(?!)")


class _DemoNormaliser:
    """Names what moto's draws and listing order decide in the demo's report, from the demo's
    own snapshot (the report's evidence), so that the golden copy holds across moto releases:

    - ids: the estate's by their names (`<vpc:phi-records>`), others by their prefix (`eni-#`);
    - addresses moto draws (an EIP's, an instance's public IP): by their kind and owner
      (`<public-ip:elastic_ip:phi-worker-eip>`);
    - a record's file name ends in a digest of its request parameters, which hold raw ids: the
      digest is taken again over the parameters with the ids named (`~<params:...>`);
    - a JSON pointer into a listing names an item by its position (`VpcEndpoints/4`), and moto
      lists in its own order: the position becomes the item's id (`VpcEndpoints/[vpce-...]`),
      the page number `*` (an item's id is unique across pages);
    - what the report lists in id order (a finding's evidence references, a value that lists
      resources, a message's "id: ..." parts) is in the order moto drew the ids: sorted once named;
    - times, dates, hashes and fingerprints by placeholders (_anonymise)."""

    def __init__(self, snapshot: Path, names: dict[str, str]) -> None:
        self.snapshot, self.names = snapshot, names
        self._records: dict[str, Any] = {}
        self.record_paths: dict[str, str] = {}
        for call in json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))["calls"]:
            match = _RECORD_DIGEST.fullmatch(call.get("record") or "")
            if match and call.get("params"):
                named = _anonymise(json.dumps(call["params"], sort_keys=True), names)
                digest = hashlib.sha256(named.encode()).hexdigest()[:10]
                self.record_paths[call["record"]] = f"{match.group(1)}<params:{digest}>{match.group(2)}"
        self.ips = self._drawn_ips()
        self._paths_re = _alternation(self.record_paths, "", "")
        self._ips_re = _alternation(self.ips, r"(?<![\d.])", r"(?!\d|\.\d)")

    def _record(self, path: str) -> Any:
        if path not in self._records:
            data = (self.snapshot / path).read_bytes()
            self._records[path] = json.loads(gzip.decompress(data) if path.endswith(".gz") else data)
        return self._records[path]

    def _drawn_ips(self) -> dict[str, str]:
        """Each address in a record's IP field -> `<public-ip:owner>` (the least owner name
        among its occurrences, so the choice does not depend on the order records are read)."""
        labels: dict[str, set[str]] = {}

        def walk(node: Any, owner: str) -> None:
            if isinstance(node, list):
                for item in node:
                    walk(item, owner)
            elif isinstance(node, dict):
                mine = next((self.names[v] for v in (node.get(k) for k in _IP_OWNERS) if v in self.names), None)
                owner = mine[1:-1] if mine else owner
                for key, value in node.items():
                    field = _IP_FIELD.fullmatch(key)
                    if field and isinstance(value, str) and re.fullmatch(r"[\d.]+", value):
                        kind = "private" if field.group(1) == "Private" else "public"
                        labels.setdefault(value, set()).add(f"<{kind}-ip:{owner}>" if owner else f"<{kind}-ip>")
                    else:
                        walk(value, owner)

        for path in sorted((self.snapshot / "records").rglob("*.json*")):
            walk(self._record(path.relative_to(self.snapshot).as_posix()).get("pages"), "")
        return {ip: min(found) for ip, found in labels.items()}

    def anonymise(self, text: str) -> str:
        """`text` with record digests, ids, drawn addresses and times named (one pass each)."""
        text = self._paths_re.sub(lambda m: self.record_paths[m.group(0)], text)
        return self._ips_re.sub(lambda m: self.ips[m.group(0)], _anonymise(text, self.names))

    def reference(self, ref: str) -> str:
        """`record#pointer` with each listing position replaced by the listed item's id."""
        path, _, pointer = ref.partition("#")
        node, parent, out = self._record(path), "", []
        for raw in pointer.split("/")[1:] if pointer else []:
            seg = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and seg.isdigit():
                item = node[int(seg)]
                raw = "*" if parent == "pages" else f"[{self._item_id(item, parent, seg)}]"
                node = item
            else:
                node = node[seg]
            parent = seg
            out.append(raw)
        return path + ("#/" + "/".join(out) if pointer else "")

    @staticmethod
    def _item_id(item: Any, listing: str, position: str) -> str:
        if isinstance(item, str):
            return item
        for singular in (listing[:-1], listing[:-2]):
            for key in _ITEM_KEYS:
                value = item.get(key.format(singular)) if isinstance(item, dict) else None
                if isinstance(value, str):
                    return value
        return position  # nothing names the item: moto's order is all there is

    def rows(self, data: dict[str, Any]) -> list[str]:
        """The findings rows (_decoded_rows), named, one JSON line per row, sorted."""
        lines = []
        for raw in _decoded_rows(data):
            for evidence in raw["evidence"]:
                evidence[4] = [self.reference(ref) for ref in evidence[4]]
            row = json.loads(self.anonymise(json.dumps(raw, ensure_ascii=False)))
            for evidence in row["evidence"]:
                evidence[1] = _sorted_if_by_id(evidence[0], evidence[1])
                evidence[4] = sorted(evidence[4])
            row["message"] = _ID_RUN.sub(lambda m: ", ".join(sorted(m.group(0).split(", "))), row["message"])
            lines.append(json.dumps(row, sort_keys=True, ensure_ascii=False))
        return sorted(lines)


# A named id: the estate's (`<vpc:phi-records>`) or one moto made on its own (`sgr-#`).
_NAMED_ID = r"(?:<[a-z_]+:[^<>]+>|[a-z0-9]+(?:-[a-z0-9]+)*-#)"
# A message's list of resources, each "id: text", in id order (e.g. a group's rules).
_ID_RUN = re.compile(rf"{_NAMED_ID}: [^,]*(?:, {_NAMED_ID}: [^,]*)+")


def _sorted_if_by_id(attribute: str, value: str) -> str:
    """An evidence value that lists resources (in id order, which is the order moto drew the ids
    in) sorted by what it says once named; any other value as it is. Lists of resources: those of
    a `[*]` attribute (one value per related resource), of resources (`{"id": ...}`), of ids."""
    try:
        items = json.loads(value)
    except ValueError:
        return value
    if not isinstance(items, list) or not (attribute.endswith("[*]") or all(
            (isinstance(x, dict) and "id" in x) or (isinstance(x, str) and re.fullmatch(_NAMED_ID, x))
            for x in items)):
        return value
    items.sort(key=lambda x: json.dumps(x, sort_keys=True))
    return json.dumps(items, sort_keys=True, ensure_ascii=False)


def normalised_demo_html(page: str, names: dict[str, str], snapshot: Path) -> str:
    """The page with one tag per line and the embedded findings as one sorted line each, with
    nothing left that depends on the clock, moto's draws or its listing order (see
    _DemoNormaliser); `snapshot` is the demo's own snapshot."""
    head, rest = page.split('<script type="application/json" id="report-data">', 1)
    block, tail = rest.split("</script>", 1)
    data = json.loads(block)
    norm = _DemoNormaliser(snapshot, names)
    meta = {k: v for k, v in data.items() if k not in ("strings", "findings")}
    # Sorted once named: in raw ids' order, the record files of one resource sort by moto's draws.
    meta_text = json.dumps(json.loads(norm.anonymise(json.dumps(meta, ensure_ascii=False))),
                           sort_keys=True, ensure_ascii=False)

    def tags(text: str) -> str:
        return re.sub(r">\s*<", ">\n<", re.sub(r"[ \t]+", " ", norm.anonymise(text))).strip()

    return "\n".join([tags(head), "<!-- report data: run metadata, then one finding per line, sorted -->",
                      meta_text, *norm.rows(data), tags(tail)]) + "\n"


def _tiny_demo(folder: Path, draw: dict[str, str], endpoints_listed: tuple[str, str],
               status: str = "FAIL") -> tuple[str, dict[str, str], Path]:
    """A small report page, its names and its snapshot, as the demo would give them with moto
    drawing the ids and addresses in `draw` and listing the two endpoints in the given order."""
    vpc, ep = draw["vpc"], {"a": draw["a"], "b": draw["b"]}
    names = {vpc: "<vpc:v>", ep["a"]: "<vpc_endpoint:a>", ep["b"]: "<vpc_endpoint:b>", draw["eip"]: "<elastic_ip:e>"}
    base = "records/111111111111/us-east-1/ec2/"
    attr = f"{base}DescribeVpcAttribute~{vpc}~{hashlib.sha256(vpc.encode()).hexdigest()[:10]}.json"
    records = {
        attr: {"pages": [{"EnableDnsSupport": {"Value": True}}]},
        f"{base}DescribeVpcEndpoints.json": {"pages": [{"VpcEndpoints": [
            {"VpcEndpointId": ep[k], "VpcId": vpc} for k in endpoints_listed]}]},
        f"{base}DescribeAddresses.json": {"pages": [{"Addresses": [
            {"AllocationId": draw["eip"], "PublicIp": draw["ip"]}]}]}}
    snapshot = folder / "snapshot"
    for path, body in records.items():
        (snapshot / path).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / path).write_text(json.dumps(body))
    (snapshot / "manifest.json").write_text(json.dumps({"calls": [
        {"record": attr, "params": {"Attribute": "enableDnsSupport", "VpcId": vpc}},
        *({"record": path, "params": {}} for path in records if path != attr)]}))
    strings: list[str] = []

    def at(text: str) -> int:
        strings.append(text)
        return len(strings) - 1

    by_id = sorted(ep.values())  # what the report lists, it lists in id order
    position = {ep[k]: n for n, k in enumerate(endpoints_listed)}
    rules = sorted([(draw["sgr1"], "ingress all traffic from sg-0aaaaaaaaaaaaaaaa"),
                    (draw["sgr2"], "egress all traffic to 0.0.0.0/0")])
    message = f"VPC {vpc} ({draw['ip']}) is open: " + ", ".join(f"{i}: {t}" for i, t in rules)
    evidence = [[at("endpoint_ids"), at(json.dumps(by_id)), at("is empty"), at("does not hold"),
                 [[at(f"{base}DescribeVpcEndpoints.json"), f"#/pages/0/VpcEndpoints/{position[i]}"] for i in by_id]],
                [at("first_endpoint_private_dns"), at("false"), at("equals true"), at("does not hold"),
                 [[at(f"{base}DescribeVpcEndpoints.json"), f"#/pages/0/VpcEndpoints/{position[ep['a']]}"]]],
                [at("dns_support"), at("true"), at("equals true"), at("holds"), [[at(attr), "#/pages/0"]]]]
    row = ["0123456789abcdef0123", at("PN-001"), at("high"), at(status), at("vpc"), vpc, at("111111111111"),
           at("us-east-1"), [at("arn:aws:ec2:us-east-1:111111111111:vpc/"), at("")], at(vpc), None, at(message),
           evidence, at("")]
    data = {"generated": "2026-01-02T03:04:05Z", "hashes": {path: "sha256:" + "0" * 64 for path in records},
            "strings": strings, "findings": [row]}
    page = (f"<html><body><h1>Report</h1><p>{vpc} at {draw['ip']}</p>"
            f'<script type="application/json" id="report-data">{json.dumps(data)}</script></body></html>')
    return page, names, snapshot


def test_demo_golden_normaliser_ignores_moto_draws_and_listing_order(tmp_path: Path) -> None:
    """The same estate as two moto releases give it (other ids, addresses and rule ids drawn, the
    endpoints listed the other way round) reads the same once normalised; a real change does not."""
    one = {"vpc": "vpc-1111111111111111a", "a": "vpce-0aaaaaaaaaaaaaaa1", "b": "vpce-0fffffffffffffff2",
           "eip": "eipalloc-0123456789abcdef0", "ip": "54.1.2.3", "sgr1": "sgr-0111111111111111a",
           "sgr2": "sgr-0999999999999999a"}
    other = {"vpc": "vpc-9999999999999999b", "a": "vpce-0fffffffffffffff3", "b": "vpce-0aaaaaaaaaaaaaaa4",
             "eip": "eipalloc-0fedcba9876543210", "ip": "127.9.8.7", "sgr1": "sgr-0999999999999999b",
             "sgr2": "sgr-0111111111111111b"}
    first = normalised_demo_html(*_tiny_demo(tmp_path / "1", one, ("a", "b")))
    assert first == normalised_demo_html(*_tiny_demo(tmp_path / "2", other, ("b", "a")))
    assert "<public-ip:elastic_ip:e>" in first
    assert "DescribeVpcEndpoints.json#/pages/*/VpcEndpoints/[<vpc_endpoint:a>]" in first
    assert first != normalised_demo_html(*_tiny_demo(tmp_path / "3", other, ("b", "a"), status="PASS"))


def test_demo_html_report_matches_the_golden_copy(demo_run: DemoRun) -> None:
    tmp_path = demo_run.root
    assert demo_run.code == 0, demo_run.stderr
    page = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    names = demo_run.names
    # The seeded ids are the demo's (those its seeder made): the names do replace them.
    assert names and sum(aws_id in page for aws_id in names) >= 50
    actual = normalised_demo_html(page, names, tmp_path / "demo" / "snapshot")
    assert "<vpc:phi-records>" in actual and not re.search(r"\bvpc-[0-9a-f]{8}", actual)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_DEMO.write_text(actual, encoding="utf-8")
    assert actual == GOLDEN_DEMO.read_text(encoding="utf-8"), (
        "the demo's report changed: UPDATE_GOLDEN=1 pytest tests/test_demo_pipeline.py rewrites "
        "tests/golden/report_demo.html; review the diff")
