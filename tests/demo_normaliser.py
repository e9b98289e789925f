"""The normaliser of the demo's outputs, shared by the tests that compare them with golden
copies (tests/test_demo_pipeline.py, tests/test_goldens.py): it names what moto's id draws
and listing order decide, and masks times, hashes and fingerprints (see DemoNormaliser)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

_AWS_ID = re.compile(r"\b((?:[a-z0-9]+-)+)[0-9a-f]{8,17}\b")     # vpc-0a1b..., eni-..., sgr-...
_VOLATILE = [(re.compile(r"sha256:[0-9a-f]{64}|\b[0-9a-f]{64}\b"), "<sha256>"),
             (re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?"), "<time>"),
             (re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC"), "<time>"),
             (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
             (re.compile(r"\b[0-9a-f]{20}\b"), "<fingerprint>"),
             # A waiver's days to expiry: the demo is judged on the day it runs.
             (re.compile(r'"days_to_expiry": -?\d+'), '"days_to_expiry": "<days>"'),
             (re.compile(r"(<td>\s*<date>\s*</td>\s*<td>\s*<date>\s*</td>\s*)<td>-?\d+</td>"), r"\1<td><days></td>")]


def anonymise(text: str, names: dict[str, str]) -> str:
    """Seeded ids by their estate names, ids moto makes on its own (ENIs, rule ids, default
    groups) by their prefix, then times, dates, hashes and fingerprints: what is left does not
    depend on the clock or on how moto draws ids."""
    for aws_id in sorted(names, key=len, reverse=True):
        text = text.replace(aws_id, names[aws_id])
    text = _AWS_ID.sub(lambda m: m.group(1) + "#", text)
    for pattern, token in _VOLATILE:
        text = pattern.sub(token, text)
    return text


def decoded_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The embedded findings rows expanded as reports/templates/report.js expands them."""
    s = data["strings"]

    def around(x: Any, rid: str) -> str:
        return s[x] if isinstance(x, int) else s[x[0]] + rid + s[x[1]]

    return [{"fp": a[0], "rule": s[a[1]], "sev": s[a[2]], "st": s[a[3]], "type": s[a[4]], "id": a[5],
             "account": s[a[6]], "region": s[a[7]], "arn": around(a[8], a[5]), "vpc": s[a[9]], "item": a[10],
             "message": around(a[11], a[5]),
             "evidence": [[s[e[0]], s[e[1]], s[e[2]], s[e[3]], [s[x[0]] + x[1] for x in e[4]],
                           *([[s[x] for x in e[5]]] if len(e) > 5 else [])] for e in a[12]],
             "waiver": s[a[13]]} for a in data["findings"]]


_RECORD_DIGEST = re.compile(r"(.*~)[0-9a-f]{10}(\.json(?:\.gz)?)")
# The field naming a listed item, tried in order; `{}` is the list's key less its plural ending
# (VpcEndpoints -> VpcEndpointId, Addresses -> AddressId, DBInstances -> DBInstanceIdentifier).
_ITEM_KEYS = ("{}Id", "GroupId", "AllocationId", "TransitGatewayAttachmentId", "{}Arn", "{}Identifier", "{}Name")
# Addresses moto draws (public IPs, and private ones it picks in a subnet), and the fields naming
# whose they are, most specific first.
_IP_FIELD = re.compile(r"(Public|Private|Carrier)Ip(?:Address)?")
_IP_OWNERS = ("AllocationId", "InstanceId", "NatGatewayId", "NetworkInterfaceId", "VpcEndpointId")


_TRAFFIC_RECORD = re.compile(r"(cloudwatch/GetMetricData)~[^\s\"/]*?\.json")


def _alternation(words: dict[str, str], before: str, after: str) -> re.Pattern[str]:
    """One pattern matching any of `words` (longest first), `(?!)` (nothing) when there are none."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(f"{before}(?:{alternatives}){after}" if words else "(?!)")


class DemoNormaliser:
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
    - times, dates, hashes and fingerprints by placeholders (anonymise)."""

    def __init__(self, snapshot: Path, names: dict[str, str]) -> None:
        self.snapshot, self.names = snapshot, names
        self._records: dict[str, Any] = {}
        self.record_paths: dict[str, str] = {}
        for call in json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))["calls"]:
            match = _RECORD_DIGEST.fullmatch(call.get("record") or "")
            if match and call.get("params"):
                named = anonymise(json.dumps(call["params"], sort_keys=True), names)
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
        # The traffic call's record is named by its window (the run's start hour) and a digest of
        # queries whose ids are built from the resources' ids: both vary between runs.
        text = _TRAFFIC_RECORD.sub(r"\1~<window>~<params>.json", text)
        return self._ips_re.sub(lambda m: self.ips[m.group(0)], anonymise(text, self.names))

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
        """The findings rows (decoded_rows), named, one JSON line per row, sorted."""
        lines = []
        for raw in decoded_rows(data):
            for evidence in raw["evidence"]:
                evidence[4] = [self.reference(ref) for ref in evidence[4]]
            row = json.loads(self.anonymise(json.dumps(raw, ensure_ascii=False)))
            for evidence in row["evidence"]:
                evidence[1] = sorted_if_by_id(evidence[0], evidence[1])
                evidence[4] = sorted(evidence[4])
            row["message"] = ID_RUN.sub(lambda m: ", ".join(sorted(m.group(0).split(", "))), row["message"])
            lines.append(json.dumps(row, sort_keys=True, ensure_ascii=False))
        return sorted(lines)


# A named id: the estate's (`<vpc:phi-records>`) or one moto made on its own (`sgr-#`).
NAMED_ID = r"(?:<[a-z_]+:[^<>]+>|[a-z0-9]+(?:-[a-z0-9]+)*-#)"
# A message's list of resources, each "id: text", in id order (e.g. a group's rules).
ID_RUN = re.compile(rf"{NAMED_ID}: [^,]*(?:, {NAMED_ID}: [^,]*)+")


def sorted_if_by_id(attribute: str, value: str) -> str:
    """An evidence value that lists resources (in id order, which is the order moto drew the ids
    in) sorted by what it says once named; any other value as it is. Lists of resources: those of
    a `[*]` attribute (one value per related resource), of resources (`{"id": ...}`), of ids."""
    try:
        items = json.loads(value)
    except ValueError:
        return value
    if not isinstance(items, list) or not (attribute.endswith("[*]") or all(
            (isinstance(x, dict) and "id" in x) or (isinstance(x, str) and re.fullmatch(NAMED_ID, x))
            for x in items)):
        return value
    items.sort(key=lambda x: json.dumps(x, sort_keys=True))
    return json.dumps(items, sort_keys=True, ensure_ascii=False)


def normalised_demo_html(page: str, names: dict[str, str], snapshot: Path) -> str:
    """The page with one tag per line and the embedded findings as one sorted line each, with
    nothing left that depends on the clock, moto's draws or its listing order (see
    DemoNormaliser); `snapshot` is the demo's own snapshot."""
    head, rest = page.split('<script type="application/json" id="report-data">', 1)
    block, tail = rest.split("</script>", 1)
    data = json.loads(block)
    norm = DemoNormaliser(snapshot, names)
    meta = {k: v for k, v in data.items() if k not in ("strings", "findings")}
    responses = meta.get("responses")
    if isinstance(responses, dict) and isinstance(responses.get("by_finding"), dict):
        # Fingerprint -> response line: keyed by what the masking makes one token, so counted
        # per line instead (which finding is which is in the rows below).
        lines = [str(v) for v in responses["by_finding"].values()]
        meta["responses"] = {**responses, "by_finding": {f"line {v}": lines.count(v) for v in sorted(set(lines))}}
    # Sorted once named: in raw ids' order, the record files of one resource sort by moto's draws.
    meta_text = json.dumps(json.loads(norm.anonymise(json.dumps(meta, ensure_ascii=False))),
                           sort_keys=True, ensure_ascii=False)

    def tags(text: str) -> str:
        return re.sub(r">\s*<", ">\n<", re.sub(r"[ \t]+", " ", norm.anonymise(text))).strip()

    return "\n".join([tags(graphviz_geometry_masked(head)), "<!-- report data: run metadata, then one finding per line, sorted -->",
                      meta_text, *norm.rows(data), tags(graphviz_geometry_masked(tail))]) + "\n"


_NETDIAGRAM = re.compile(r'<svg[^>]*class="netdiagram".*?</svg>', re.S)
_GEOMETRY = re.compile(r'\b(x|y|x1|y1|x2|y2|cx|cy|rx|ry|width|height|viewBox|d|points|transform)="([^"]*)"')


def graphviz_geometry_masked(page: str) -> str:
    """The network diagrams' coordinates (Graphviz's layout, recorded at scan time) masked: they
    change with Graphviz's release, not with the tool. Labels, links and shapes stay."""
    def svg(m: re.Match[str]) -> str:
        return _GEOMETRY.sub(lambda g: f'{g.group(1)}="{re.sub(r"-?[0-9]+(?:[.][0-9]+)?", "#", g.group(2))}"', m.group(0))
    return _NETDIAGRAM.sub(svg, page)
