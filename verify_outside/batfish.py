"""The reachability analyzer against Batfish's AWS snapshots (outside data, read only).

    python verify_outside/batfish.py DIR          (make verify-outside FIXTURES=DIR)

DIR holds `external-oracles/` (README there): Batfish's AWS test snapshots (raw Describe*
responses) with, per snapshot, `expectations.yaml` restating the packets Batfish's tests trace
and what Batfish answers. Each snapshot is converted to an auditor snapshot and read back
through the tool's reader and model builder (verify_outside/batfish_adapter.py); each flow is
then traced by the analyzer (`subnet_trace`: the paths and stops of one destination address
from the source's subnet) and compared with Batfish's answer on what the analyzer covers:
routing (route tables, NAT, internet, transit and virtual private gateways, peering,
endpoints). Batfish's hops are read as AWS hops: instance hops, `vpc-...` router hops and the
backbone/internet nodes dropped (README 1.3). Compared: the outcome (reaches the internet /
delivered into VPC X / reaches on premises / dropped at N) and the gateways passed in order.

A flow our analysis does not decide (security groups, network ACLs, load balancers, return
legs, on-premises routers, address-level facts) is listed with the reason and never counted as
agreement; a flow whose routing is compared but whose final verdict is such a filter is
"partly covered" and says which part was not compared. verify_outside/README.md has the table.

Exit 0 when every compared part agrees, 1 when any disagrees, 2 when the folder cannot be read.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Sequence

from auditor.analyze.reachability import Reachability, internet_ingress_ports, subnet_trace
from auditor.console import echo, safe
from auditor.errors import InputError
from auditor.model.types import Instance, Model, NetworkInterface, Subnet, TransitGatewayRouteTable
from auditor.yamlpos import load_yaml

# Run as a script, this file's folder is on the path; the tests import the adapter first.
import batfish_adapter as adapter

SCHEMAS = ("external-oracles/reachability/v1", "external-oracles/structure/v1")
ORACLES = "external-oracles"
SOURCES = ("batfish", "pybatfish")
EXIT_AGREE, EXIT_DISAGREE, EXIT_INPUT = 0, 1, 2
_OUTSIDE = frozenset({"isp_16509", "internet", "__aws-services-gateway__"})
_DELIVERED = frozenset({"ACCEPTED", "EXITS_NETWORK"})


class CorpusError(Exception):
    """The corpus folder cannot be read (exit 2); the message says why."""


# -- outcomes ---------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Outcome:
    """Where one packet (or one path of ours) ends, in AWS terms.

    `kind`: internet, vpc (delivered into VPC `where`), on_premises, dropped (at node `where`:
    a subnet, a gateway, a transit gateway); `gateways`: the gateways passed in order, as
    ``nat nat-1``, ``igw igw-1``, ``tgw tgw-1``, ``peering vpc-b`` (into that VPC), ``vgw ...``,
    ``vpce ...``."""

    kind: str
    where: str
    gateways: tuple[str, ...]

    @property
    def text(self) -> str:
        what = {"internet": "reaches the internet", "vpc": f"delivered into {self.where}",
                "on_premises": f"reaches on premises ({self.where})" if self.where else "reaches on premises",
                "dropped": f"dropped at {self.where}"}.get(self.kind, f"{self.kind} {self.where}")
        return f"{what} via {', '.join(self.gateways)}" if self.gateways else f"{what} (no gateway)"


@dataclass
class Verdict:
    """The comparison of one flow (or one part of it)."""

    snapshot: str
    flow: str
    status: str                       # covered | partly covered | uncovered
    expected: str = ""
    ours: str = ""
    result: str = ""                  # AGREE | DISAGREE | "" (uncovered)
    not_compared: list[str] = field(default_factory=list)
    reason: str = ""                  # why uncovered
    notes: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        head = f"{self.snapshot}  {self.flow}  {self.status}"
        if self.status == "uncovered":
            tail = f"  (ours: {self.ours})" if self.ours else ""
            return f"{head}  {self.reason}{tail}"
        extra = "".join(f"  [not compared: {n}]" for n in self.not_compared) + "".join(
            f"  [note: {n}]" for n in self.notes)
        return f"{head}  expected: {self.expected}  ours: {self.ours}  {self.result}{extra}"


# -- our side: the analyzer's trace ----------------------------------------------------------

@dataclass(frozen=True)
class Ours:
    """Our answer for one destination: every outcome (paths and certain stops), and what our
    trace could not decide."""

    outcomes: tuple[Outcome, ...]
    undecided: tuple[str, ...]
    codes: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        parts = [o.text for o in self.outcomes] or ["no outcome"]
        if self.codes:
            parts.append("codes " + ", ".join(self.codes))
        if self.undecided:
            parts.append("undecided: " + "; ".join(self.undecided[:3]))
        return " | ".join(parts)


def _tokens_of_ids(ids: Sequence[str], model: Model) -> tuple[list[str], str]:
    """Gateway tokens and the last node of a hop-id sequence of ours (route tables belong to
    the node before them; a transit gateway route table stands for its transit gateway)."""
    tokens: list[str] = []
    last = ""
    prev_kind = ""
    for i, hid in enumerate(ids):
        if hid.startswith("tgw-rtb-"):
            t = model.get("transit_gateway_route_table", hid)
            hid = t.transit_gateway_id if isinstance(t, TransitGatewayRouteTable) else hid
            if tokens and tokens[-1] == f"tgw {hid}":
                last = hid
                continue
        if hid.startswith(("rtb-", "tgw-attach-", "tgw-rtb-")):
            continue
        if hid.startswith("pcx-"):
            peer = ids[i + 1] if i + 1 < len(ids) and ids[i + 1].startswith("vpc-") else "?"
            tokens.append(f"peering {peer}")
            prev_kind = "pcx"
            continue
        if hid.startswith("vpc-"):
            if prev_kind == "pcx":
                prev_kind = ""
            last = hid
            continue
        for prefix, kind in (("nat-", "nat"), ("igw-", "igw"), ("eigw-", "eigw"), ("tgw-", "tgw"), ("vgw-", "vgw"),
                             ("vpce-", "vpce"), ("i-", "instance"), ("eni-", "eni")):
            if hid.startswith(prefix):
                token = f"{kind} {hid}"
                if not tokens or tokens[-1] != token:
                    tokens.append(token)
                break
        last = hid
    return tokens, last


def _hop_ids(text: str) -> list[str]:
    """The ids of a hop text of ours (``subnet-a → rtb-1 0.0.0.0/0 → tgw-1``); an attachment
    (``attachment vpc-b``) is no node of its own: its transit gateway is the hop before it."""
    out = []
    for part in text.split("→"):
        words = part.split()
        if words and words[0] != "attachment":
            out.append(words[0])
    return out


# Codes that explain a route carrying none of the traffic (a more specific or preferred route
# took it, or the route does not match it): the packet went elsewhere, it was not dropped there.
_ROUTE_NOT_TAKEN = frozenset({"MORE_SPECIFIC_ROUTE", "HIGHER_PRIORITY_ROUTE", "CANNOT_ROUTE",
                              "TGW_RTB_MORE_SPECIFIC_ROUTE", "TGW_RTB_HIGHER_PRIORITY_ROUTE", "TGW_RTB_CANNOT_ROUTE"})


def ours_from(reach: Reachability, model: Model) -> Ours:
    """Our answer from a `Reachability` of one destination (its paths and its `stops`)."""
    outcomes: list[Outcome] = []
    codes: list[str] = []
    for p in reach.paths:
        ids = [h.id for h in p.hops]
        tokens, _ = _tokens_of_ids(ids, model)
        last = p.hops[-1]
        where = last.id if p.destination == "vpc" else (last.label or last.id) if p.destination == "on_premises" else ""
        outcomes.append(Outcome(p.destination, where, tuple(tokens)))
        codes += list(p.codes)
    undecided = list(reach.indeterminate)
    for s in reach.stops:
        if s.code in _ROUTE_NOT_TAKEN:
            continue
        codes.append(s.code)
        if not s.certain:
            continue
        ids = _hop_ids(s.hops)
        tokens, last_id = _tokens_of_ids(ids, model)
        if tokens and tokens[-1].split(" ", 1)[1] == last_id:
            tokens = tokens[:-1]           # the node it stopped at is `where`, not a gateway passed
        if s.code == "TGW_ROUTE_AZ_RESTRICTION":
            # The transit gateway never receives it: AWS (and Batfish, as a null route) drop it
            # where it is sent, at the subnet whose route table names the transit gateway.
            senders = [i for i in ids if i.startswith("subnet-")]
            last_id = senders[-1] if senders else last_id
        outcomes.append(Outcome("dropped", last_id, tuple(tokens)))
    return Ours(tuple(sorted(set(outcomes))), tuple(dict.fromkeys(undecided)), tuple(dict.fromkeys(codes)))


def trace_function() -> tuple[Callable[[Model, Subnet, str], Any], str]:
    """The analyzer's trace of one destination, and its name for the header line."""
    return subnet_trace, "auditor.analyze.reachability.subnet_trace"


# -- Batfish's side ---------------------------------------------------------------------------

@dataclass
class Context:
    """One snapshot: its name, its model, the adapter's notes, the trace function."""

    name: str
    model: Model
    bgp_tables: dict[str, tuple[str, ...]]
    trace: Callable[[Model, Subnet, str], Any]


def _is_aws(name: str) -> bool:
    return name.startswith(("i-", "subnet-", "vpc-", "nat-", "igw-", "tgw-", "vgw-", "vpce-", "pcx-", "eigw-", "eni-"))


def _vpc_of_node(ctx: Context, node: str) -> str | None:
    """The VPC of the node a packet is accepted at (an instance, an interface endpoint's
    interface ``vpce-X-subnet-Y``), from the model."""
    m = ctx.model
    if node.startswith("i-"):
        inst = m.get("instance", node)
        return inst.vpc_id if isinstance(inst, Instance) else None
    if node.startswith("vpce-") and "-subnet-" in node:
        sn = m.get("subnet", "subnet-" + node.split("-subnet-", 1)[1])
        return sn.vpc_id if isinstance(sn, Subnet) else None
    if node.startswith("eni-"):
        eni = m.get("network_interface", node)
        return eni.vpc_id if isinstance(eni, NetworkInterface) else None
    return None


def _expected_tokens(hops: Sequence[str]) -> list[str]:
    tokens: list[str] = []
    for i, h in enumerate(hops):
        if h.startswith("vpc-"):
            if i > 0 and hops[i - 1].startswith("vpc-"):
                tokens.append(f"peering {h}")        # VPC peering: vpc-A followed by vpc-B
            continue
        if h.startswith("i-"):
            if 0 < i < len(hops) - 1:
                tokens.append(f"instance {h}")       # an instance forwarding in the middle of a path
            continue
        if h.startswith("vpce-") and "-subnet-" in h:
            continue                                  # an interface endpoint's interface: a destination
        for prefix, kind in (("nat-", "nat"), ("igw-", "igw"), ("eigw-", "eigw"), ("tgw-", "tgw"), ("vgw-", "vgw"),
                             ("vpce-", "vpce")):
            if h.startswith(prefix):
                tokens.append(f"{kind} {h}")
                break
    return tokens


def _dispositions(expect: dict[str, Any]) -> set[str]:
    if "disposition" in expect:
        return {str(expect["disposition"])}
    return {str(d) for d in expect.get("disposition_any_of") or []}


def judge(ctx: Context, flow: dict[str, Any]) -> list[Verdict]:
    """The verdicts of one flow: the flow itself, and its reply leg when it asserts one."""
    fid = str(flow["id"])
    expect = flow["expect"]
    hops = [str(h) for h in expect["hops"]]
    out: list[Verdict] = []
    if expect.get("reverse"):
        out.append(Verdict(ctx.name, f"{fid}/reverse", "uncovered",
                           reason="the reply's path (return legs and NAT sessions are not modelled)"))
    return [_judge_forward(ctx, flow, fid, expect, hops), *out]


def _uncovered(ctx: Context, fid: str, reason: str, ours: str = "") -> Verdict:
    return Verdict(ctx.name, fid, "uncovered", reason=reason, ours=ours)


def _judge_forward(ctx: Context, flow: dict[str, Any], fid: str, expect: dict[str, Any], hops: list[str]) -> Verdict:
    start = str(flow["start"])
    packet = flow["packet"]
    dst = str(packet["dst_ip"])
    disp = _dispositions(expect)
    m = ctx.model
    if start == "internet":
        return _judge_ingress(ctx, flow, fid, expect, hops)
    if not _is_aws(start):
        return _uncovered(ctx, fid, f"starts on premises at {start} (router configurations are not modelled)")
    if start.startswith("i-"):
        inst = m.get("instance", start)
        if not isinstance(inst, Instance):
            return _uncovered(ctx, fid, f"start {start}: instance not in the model")
        subnet = m.get("subnet", inst.subnet_id)
    elif start.startswith("subnet-"):
        subnet = m.get("subnet", start)
    else:
        return _uncovered(ctx, fid, f"starts at {start}, not at an instance or subnet")
    if not isinstance(subnet, Subnet):
        return _uncovered(ctx, fid, f"start {start}: its subnet is not in the model")
    for h in hops:
        if ".elb." in h or h.endswith("elb.amazonaws.com"):
            return _uncovered(ctx, fid, f"passes load balancer node {h} (listeners, targets: not modelled)")
        if not _is_aws(h) and h not in _OUTSIDE:
            return _uncovered(ctx, fid, f"passes {h}, on premises (router configurations are not modelled)")
    igws = [i for i, h in enumerate(hops) if h.startswith("igw-")]
    if len(igws) > 1:
        return _uncovered(ctx, fid, f"comes back in from the internet through {hops[igws[-1]]} (ingress over public "
                                    "addresses is not traced; our trace ends at the internet)")
    last = hops[-1]
    not_compared: list[str] = []
    notes: list[str] = []
    if disp <= _DELIVERED:
        if last in _OUTSIDE:
            expected = Outcome("internet", "", tuple(_expected_tokens(hops)))
        else:
            vpc = _vpc_of_node(ctx, last)
            if vpc is None:
                return _uncovered(ctx, fid, f"ends at {last}, a node the model cannot place in a VPC")
            expected = Outcome("vpc", vpc, tuple(_expected_tokens(hops)))
    elif disp == {"DENIED_IN"} and last.startswith("i-") and len(hops) > 1:
        vpc = _vpc_of_node(ctx, last)
        if vpc is None:
            return _uncovered(ctx, fid, f"ends at {last}, an instance not in the model")
        expected = Outcome("vpc", vpc, tuple(_expected_tokens(hops)))
        protocol = packet.get("ip_protocol")
        note = " (ip_protocol 0 matches only all-traffic rules)" if str(protocol) == "0" else ""
        not_compared.append(f"the final DENIED_IN at {last}: its security group or network ACL{note}")
    elif disp <= {"DENIED_IN", "DENIED_OUT"} and last.startswith("nat-"):
        why = ("a packet addressed to the NAT gateway itself" if any(dst == ip for ip in _nat_ips(m, last))
               else f"the NAT gateway's protocol restriction (ip_protocol {packet.get('ip_protocol')})")
        return _uncovered(ctx, fid, f"dropped by {last}: {why}, not modelled (our analysis has no protocols "
                                    "or addresses of gateways)")
    elif disp <= {"DENIED_IN", "DENIED_OUT"} and last.startswith("igw-"):
        return _uncovered(ctx, fid, f"dropped by {last} for its source address {packet.get('src_ip')} (no public IP: "
                                    "address-level, not modelled)")
    elif disp == {"DENIED_OUT"} and last == "isp_16509" and igws:
        expected = Outcome("dropped", hops[igws[0]], tuple(_expected_tokens(hops[:igws[0]])))
        notes.append("Batfish drops it at the AWS backbone (isp_16509) after the internet gateway, for its private "
                     "destination: read as dropped at that gateway (AWS: IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS)")
    elif disp == {"NULL_ROUTED"} and last.startswith("vpc-"):
        return _uncovered(ctx, fid, f"null-routed at the VPC router {last}: an address inside the VPC's CIDR in no "
                                    "subnet (address-level, not modelled)")
    elif disp <= {"NO_ROUTE", "NULL_ROUTED"} and _is_aws(last):
        where = last
        expected = Outcome("dropped", where, tuple(t for t in _expected_tokens(hops) if t.split(" ", 1)[1] != where))
    elif disp == {"NEIGHBOR_UNREACHABLE"}:
        return _uncovered(ctx, fid, "no interface owns the destination address (address-level, not modelled)")
    elif disp <= {"DENIED_IN", "DENIED_OUT"}:
        return _uncovered(ctx, fid, f"{'/'.join(sorted(disp))} at {last}: a filter decision (security group or "
                                    "network ACL), not modelled on egress paths")
    else:
        return _uncovered(ctx, fid, f"disposition {'/'.join(sorted(disp))} at {last} has no routing reading here")
    bgp = _bgp_on_path(ctx, hops)
    if bgp:
        return _uncovered(ctx, fid, bgp)
    if expected.kind in ("internet", "dropped") and any(t.startswith("igw ") for t in expected.gateways + (
            (f"igw {expected.where}",) if expected.where.startswith("igw-") else ())) and not any(
            t.startswith("nat ") for t in expected.gateways) and not _has_public_ip(m, start):
        return _uncovered(ctx, fid, f"the internet gateway's decision depends on {start} having a public address "
                                    "(address-level, not modelled)")
    try:
        reach = ctx.trace(m, subnet, dst)
    except Exception as exc:   # an analyzer failure is a finding of this check, not a traceback
        return Verdict(ctx.name, fid, "partly covered" if not_compared else "covered", expected.text,
                       f"the trace failed: {type(exc).__name__}: {exc}", "DISAGREE", not_compared, notes=notes)
    ours = ours_from(reach, m)
    status = "partly covered" if not_compared else "covered"
    agree = not ours.undecided and set(ours.outcomes) == {expected}
    return Verdict(ctx.name, fid, status, expected.text, ours.text, "AGREE" if agree else "DISAGREE", not_compared,
                   notes=notes)


# -- inbound from the internet: what an interface admits -------------------------------------

_NAT_INTERFACE = "Interface for NAT Gateway "


def _owner_of_interface(eni: NetworkInterface) -> str:
    """The node Batfish names for an interface: its instance, its NAT gateway, else itself."""
    if eni.instance_id:
        return eni.instance_id
    if eni.description.startswith(_NAT_INTERFACE):
        return eni.description[len(_NAT_INTERFACE):].strip()
    return eni.id


def admits(ports: Sequence[str], protocol: Any, port: Any, *, except_port: int | None = None) -> bool:
    """Whether `internet_ingress_ports`' answer admits that protocol and destination port
    (any TCP port but `except_port` when given; protocol None: anything at all)."""
    proto = str(protocol).lower() if protocol is not None else None
    for text in ports:
        if text == "all":
            return True
        kind, _, span = text.partition(" ")
        if proto is None:
            return True
        if kind != proto:
            if proto not in ("tcp", "udp", "icmp") and text in (f"protocol {proto}", "other protocols"):
                return True
            continue
        if kind not in ("tcp", "udp") or span == "all ports":
            if except_port is None or span == "all ports":
                return True
            continue
        lo, _, hi = span.partition("-")
        low, high = int(lo), int(hi or lo)
        if except_port is not None:
            if (low, high) != (except_port, except_port):
                return True
        elif port is not None and low <= int(port) <= high:
            return True
    return False


def _judge_ingress(ctx: Context, flow: dict[str, Any], fid: str, expect: dict[str, Any], hops: list[str]) -> Verdict:
    """A packet from the internet to a public address: our answer is what the interface
    owning that address admits from internet sources (`internet_ingress_ports`: a route back
    to an internet gateway, its security groups, its subnet's network ACL)."""
    packet = flow["packet"]
    dst = str(packet["dst_ip"])
    disp = _dispositions(expect)
    owners = [e for e in ctx.model.of("network_interface") if isinstance(e, NetworkInterface) and dst in e.public_ips]
    if len(owners) != 1:
        return _uncovered(ctx, fid, f"starts at the internet, to {dst}, which no interface in the snapshot owns "
                                    "(Batfish's model of the internet and the AWS backbone)")
    eni = owners[0]
    node = _owner_of_interface(eni)
    last = hops[-1]
    if last != node or not any(h.startswith("igw-") for h in hops):
        return _uncovered(ctx, fid, f"starts at the internet and ends at {last}, not at {node}, the owner of {dst} "
                                    "(only delivery to the address's own interface is compared)")
    if disp == {"ACCEPTED"}:
        expected = Outcome("admitted", node, ())
    elif disp == {"DENIED_IN"}:
        expected = Outcome("refused", node, ())
    else:
        return _uncovered(ctx, fid, f"starts at the internet: disposition {'/'.join(sorted(disp))} has no ingress reading")
    not_compared = []
    if expect.get("transformations"):
        not_compared.append("the internet gateway's destination NAT (public to private address)")
    if expected.kind == "admitted":
        not_compared.append(f"whether the admitting rule covers the source {packet.get('src_ip')} (our answer is per "
                            "port, for any internet source)")
    ports, reasons = internet_ingress_ports(ctx.model, eni)
    if ports is None:
        ours_text = "undecided: " + "; ".join(reasons[:3])
        return Verdict(ctx.name, fid, "partly covered" if not_compared else "covered",
                       _ingress_text(expected, packet), ours_text, "DISAGREE", not_compared)
    got = admits(ports, packet.get("ip_protocol"), packet.get("dst_port"))
    ours = Outcome("admitted" if got else "refused", node, ())
    ours_text = f"{_ingress_text(ours, packet)} (admitted from the internet: {', '.join(ports) or 'nothing'})"
    if reasons:
        ours_text += " | undecided: " + "; ".join(reasons[:3])
    agree = ours == expected and (not reasons or got)
    return Verdict(ctx.name, fid, "partly covered" if not_compared else "covered", _ingress_text(expected, packet),
                   ours_text, "AGREE" if agree else "DISAGREE", not_compared)


def _ingress_text(o: Outcome, packet: dict[str, Any]) -> str:
    what = f"{packet.get('ip_protocol')} {packet.get('dst_port', '')}".strip()
    return f"{what} from the internet {o.kind} at {o.where}"


def _nat_ips(model: Model, nat_id: str) -> list[str]:
    out: list[str] = []
    for eni in model.of("network_interface"):
        if isinstance(eni, NetworkInterface) and (nat_id in eni.description):
            out += list(eni.private_ips) + list(eni.public_ips)
    return out


def _has_public_ip(model: Model, start: str) -> bool:
    if not start.startswith("i-"):
        return False
    inst = model.get("instance", start)
    if isinstance(inst, Instance) and inst.public_ip:
        return True
    return any(isinstance(e, NetworkInterface) and e.instance_id == start and e.public_ips
               for e in model.of("network_interface"))


def _bgp_on_path(ctx: Context, hops: Iterable[str]) -> str:
    """Why the flow depends on transit gateway routes learned over BGP ("" when it does not)."""
    for h in hops:
        if not h.startswith("tgw-"):
            continue
        for t in ctx.model.of("transit_gateway_route_table"):
            if isinstance(t, TransitGatewayRouteTable) and t.transit_gateway_id == h and t.id in ctx.bgp_tables:
                return (f"crosses {h}, whose route table {t.id} also holds routes learned over BGP from "
                        f"{', '.join(ctx.bgp_tables[t.id])} (VPN/Direct Connect): no AWS listing holds them")
    return ""


# -- other facts ------------------------------------------------------------------------------

@dataclass
class Fact:
    snapshot: str
    fact: str
    result: str          # AGREE | DISAGREE | not checked
    detail: str

    @property
    def line(self) -> str:
        return f"{self.snapshot}  {self.fact}  {self.result}  {self.detail}"


def facts(ctx: Context, doc: dict[str, Any]) -> list[Fact]:
    out: list[Fact] = []
    for r in doc.get("reachability") or []:
        rid = str(r.get("id", "?"))
        start = str(r.get("start", ""))
        text = f"{r.get('question') or r.get('expect') or ''}".strip()
        if str(r.get("end_node", "")).startswith("i-") and start.startswith("i-"):
            why = "the servers are reached through a load balancer (listeners, targets: not modelled)"
        elif "the internet reach" in text and isinstance(r.get("reachable"), list):
            out.append(_internet_set(ctx, doc, r, rid, text))
            continue
        else:
            why = "starts on premises (router configurations are not modelled)"
        out.append(Fact(ctx.name, f"{rid} (reachability)", "not checked", why))
    for t in doc.get("topology_facts") or []:
        out.append(_topology_fact(ctx, t))
    if doc.get("structure_facts"):
        out += _structure_facts(ctx, doc["structure_facts"])
    for key in ("route_facts", "inventory_facts", "session_facts"):
        for f in doc.get(key) or []:
            why = ("IPsec/BGP sessions with on-premises routers are not modelled" if key == "session_facts"
                   else f"this command has no check for {key}")
            out.append(Fact(ctx.name, f"{f.get('id', '?')} ({key})", "not checked", why))
    return out


def _internet_set(ctx: Context, doc: dict[str, Any], r: dict[str, Any], rid: str, text: str) -> Fact:
    """"Which of these instances can the internet reach (any packet / TCP to a port other than
    N)": ours is the instances with an interface that `internet_ingress_ports` says admits
    such traffic from internet sources."""
    fid = f"{rid} (reachability)"
    names = doc.get("instances")
    if not isinstance(names, dict):
        return Fact(ctx.name, fid, "not checked", "the file names no instances")
    other = re.search(r"TCP to a port other than (\d+)", text)
    if other is None and "any packet" not in text:
        return Fact(ctx.name, fid, "not checked", f"question not understood: {text}")
    ours: set[str] = set()
    undecided: list[str] = []
    for name, iid in sorted(names.items()):
        for eni in ctx.model.of("network_interface"):
            if not isinstance(eni, NetworkInterface) or eni.instance_id != str(iid):
                continue
            ports, reasons = internet_ingress_ports(ctx.model, eni)
            if ports is None:
                undecided += [f"{name}: {x}" for x in reasons[:1]]
                continue
            hit = (admits(ports, "tcp", None, except_port=int(other.group(1))) if other is not None
                   else admits(ports, None, None))
            if hit:
                ours.add(str(name))
    want = {str(x) for x in r.get("reachable") or []}
    want_not = {str(x) for x in r.get("not_reachable") or []}
    agree = not undecided and ours == want and not (ours & want_not) and want | want_not == set(names)
    detail = (f"expected reachable {sorted(want)}, not {sorted(want_not)}; ours reachable {sorted(ours)}"
              + (f"; undecided: {'; '.join(undecided)}" if undecided else "")
              + " (the ports each interface admits from internet sources)")
    return Fact(ctx.name, fid, "AGREE" if agree else "DISAGREE", detail)


def _topology_fact(ctx: Context, fact: dict[str, Any]) -> Fact:
    """`connected` rows [dxgw-<id>, tgw, ...] or [tgw, dxgw-<id>, ...]: the model must hold an
    available Direct Connect gateway attachment between them (associated with the named
    table when the row names one); our analysis then counts traffic into it as on premises."""
    fid = f"{fact.get('id', '?')} (topology)"
    problems: list[str] = []
    rows = fact.get("connected") or []
    for row in rows:
        names = [str(x) for x in row]
        dx = next((n for n in names if n.startswith("dxgw-")), None)
        tgw = next((n for n in names[:2] if n.startswith("tgw-")), None)
        table = next((n.split()[-1] for n in names[2:] if "tgw-rtb-" in n), None)
        if dx is None or tgw is None:
            return Fact(ctx.name, fid, "not checked", f"row {names} is not a Direct Connect gateway–transit gateway link")
        found = [a for a in ctx.model.of("transit_gateway_attachment")
                 if getattr(a, "transit_gateway_id", "") == tgw and getattr(a, "resource_type", "") == "direct-connect-gateway"
                 and getattr(a, "resource_id", "") == dx.removeprefix("dxgw-") and getattr(a, "state", "") == "available"]
        if not found:
            problems.append(f"no available Direct Connect attachment of {dx} on {tgw} in the model")
        elif table and not any(getattr(a, "associated_route_table_id", None) == table for a in found):
            problems.append(f"the attachment of {dx} on {tgw} is not associated with {table}")
    if not rows:
        return Fact(ctx.name, fid, "not checked", "no connected rows")
    return Fact(ctx.name, fid, "DISAGREE" if problems else "AGREE",
                "; ".join(problems) or f"{len(rows)} Direct Connect gateway–transit gateway links in the model "
                                       "(attachments, associations)")


def _structure_facts(ctx: Context, sf: dict[str, Any]) -> list[Fact]:
    """Containment of subnets in VPCs and gateway–VPC adjacency, from the model."""
    out: list[Fact] = []
    m = ctx.model
    problems: list[str] = []
    checked = 0
    for c in sf.get("containment") or []:
        if c.get("type") != "VNET":
            continue
        vpc = str(c.get("name"))
        want = {str(x) for x in c.get("contains") or [] if str(x).startswith("subnet-")}
        have = {s.id for s in m.of("subnet") if isinstance(s, Subnet) and s.vpc_id == vpc}
        checked += 1
        if want != have:
            problems.append(f"{vpc}: Batfish's subnets {sorted(want)}, ours {sorted(have)}")
    out.append(Fact(ctx.name, "structure: subnets per VPC", "DISAGREE" if problems else "AGREE",
                    "; ".join(problems) or f"{checked} VPCs, the same subnets in each"))
    problems = []
    checked = 0
    for pair in sf.get("adjacent_pairs") or []:
        a, b = (str(x) for x in pair)
        gw, vpc = (a, b) if a.startswith(("igw-", "vgw-")) else (b, a)
        if not gw.startswith(("igw-", "vgw-")) or not vpc.startswith("vpc-"):
            continue
        checked += 1
        res = m.get("internet_gateway" if gw.startswith("igw-") else "vpn_gateway", gw)
        if res is None or vpc not in getattr(res, "attached_vpc_ids", ()):
            problems.append(f"{gw} not attached to {vpc} in the model")
    out.append(Fact(ctx.name, "structure: gateways attached to VPCs", "DISAGREE" if problems else "AGREE",
                    "; ".join(problems) or f"{checked} gateway–VPC adjacencies, all attached in the model"))
    out.append(Fact(ctx.name, "structure: other nodes and adjacencies", "not checked",
                    "hosts (RDS, Elasticsearch) placed in one subnet, backbone adjacency and Batfish's node types "
                    "have no counterpart in the model"))
    return out


# -- the corpus ------------------------------------------------------------------------------

def snapshots_of(folder: Path) -> list[tuple[str, Path]]:
    """(name, folder) of every reachability snapshot under DIR/external-oracles."""
    if not folder.is_dir():
        raise CorpusError(f"{folder}: no such folder")
    root = folder / ORACLES if (folder / ORACLES).is_dir() else folder
    found: list[tuple[str, Path]] = []
    for source in SOURCES:
        base = root / source / "snapshots"
        if base.is_dir():
            found += [(f"{source}/{p.name}", p) for p in sorted(base.iterdir()) if p.is_dir()]
    if not found:
        raise CorpusError(f"{folder}: holds no {ORACLES}/{{{','.join(SOURCES)}}}/snapshots/*/ (give the folder "
                          f"holding {ORACLES}/, e.g. ../shared/fixtures)")
    return found


def read_expectations(path: Path) -> dict[str, Any]:
    """The snapshot's expectations.yaml, checked for the parts this command reads."""
    file = path / "expectations.yaml"
    if not file.is_file():
        raise CorpusError(f"{file}: missing (every snapshot folder holds its expectations.yaml)")
    try:
        doc = load_yaml(file).data
    except InputError as exc:
        raise CorpusError(str(exc)) from None
    if not isinstance(doc, dict) or doc.get("schema") not in SCHEMAS:
        raise CorpusError(f"{file}: not an expectations file of schema {' or '.join(SCHEMAS)}")
    for key in ("flows", "reachability"):
        if key in doc and not isinstance(doc[key], list):
            raise CorpusError(f"{file}: '{key}' is not a list")
    for i, flow in enumerate(doc.get("flows") or []):
        where = f"{file}: flows[{i}]"
        if not isinstance(flow, dict) or not isinstance(flow.get("id"), str | int) or not flow.get("start"):
            raise CorpusError(f"{where}: a flow has an id and a start")
        packet, expect = flow.get("packet"), flow.get("expect")
        if not isinstance(packet, dict) or not packet.get("dst_ip"):
            raise CorpusError(f"{where} ({flow['id']}): no packet.dst_ip")
        if not isinstance(expect, dict) or not isinstance(expect.get("hops"), list) or not expect["hops"]:
            raise CorpusError(f"{where} ({flow['id']}): no expect.hops")
        if not _dispositions(expect):
            raise CorpusError(f"{where} ({flow['id']}): no expect.disposition or disposition_any_of")
    snap = doc.get("snapshot")
    if snap is not None and not isinstance(snap, dict):
        raise CorpusError(f"{file}: 'snapshot' is not a mapping")
    return doc


@dataclass
class Totals:
    flows: int = 0
    covered: int = 0
    partly: int = 0
    uncovered: int = 0
    agree: int = 0
    disagree: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    facts_agree: int = 0
    facts_disagree: int = 0
    facts_unchecked: int = 0


def _reason_class(reason: str) -> str:
    for needle, label in (("return legs", "reply leg (return legs not modelled)"),
                          ("which no interface in the snapshot owns", "from the internet to an address no interface "
                                                                      "owns (Batfish's internet and backbone model)"),
                          ("starts on premises", "starts on premises"), ("load balancer", "load balancer"),
                          ("comes back in from the internet", "into another VPC over the internet (ingress)"),
                          ("learned over BGP", "transit gateway routes learned over BGP"),
                          ("NAT gateway", "NAT gateway protocol / own address"),
                          ("source address", "internet gateway: source without public address"),
                          ("in no subnet", "an address in a VPC CIDR but in no subnet"),
                          ("public address", "internet gateway: source without public address"),
                          ("filter decision", "security group / network ACL")):
        if needle in reason:
            return label
    return reason


def run(folder: Path, only: str | None = None, keep: Path | None = None) -> tuple[list[str], Totals]:
    """Every line to print and the totals. CorpusError when the folder cannot be read."""
    trace, trace_name = trace_function()
    lines = [f"Batfish's AWS snapshots against the reachability analyzer ({trace_name})"]
    totals = Totals()
    snapshots = snapshots_of(folder)
    if only is not None:
        snapshots = [s for s in snapshots if s[0] == only or s[0].split("/", 1)[1] == only]
        if not snapshots:
            raise CorpusError(f"no snapshot named {only}")
    for name, path in snapshots:
        doc = read_expectations(path)
        snap_info = doc.get("snapshot") or {}
        loaded_by = snap_info.get("loaded_by_test")
        try:
            loaded = adapter.load(path, loaded_by if isinstance(loaded_by, list) else None,
                                  (keep / name.replace("/", "_")) if keep is not None else None)
        except adapter.AdapterError as exc:
            raise CorpusError(f"{path}: {exc}") from None
        conv = loaded.conversion
        lines.append("")
        lines.append(f"== {name} ({conv.layout}: " + ", ".join(f"{f.account}/{f.region}" for f in conv.folders) + ")")
        for rel, call in conv.used:
            lines.append(f"   used      {rel} -> {call}")
        for rel, why in conv.not_used:
            lines.append(f"   not used  {rel}: {why}")
        for d in conv.derived:
            lines.append(f"   derived   {d}")
        ctx = Context(name, loaded.model, conv.bgp_tables, trace)
        for flow in doc.get("flows") or []:
            totals.flows += 1
            for v in judge(ctx, flow):
                lines.append(v.line)
                if "/" in v.flow:       # a flow's reply leg: an uncovered part of that flow
                    totals.reasons[_reason_class(v.reason)] = totals.reasons.get(_reason_class(v.reason), 0) + 1
                    continue
                if v.status == "uncovered":
                    totals.uncovered += 1
                    totals.reasons[_reason_class(v.reason)] = totals.reasons.get(_reason_class(v.reason), 0) + 1
                    continue
                totals.partly += v.status == "partly covered"
                totals.covered += v.status == "covered"
                totals.agree += v.result == "AGREE"
                totals.disagree += v.result == "DISAGREE"
        for f in facts(ctx, doc):
            lines.append(f.line)
            totals.facts_agree += f.result == "AGREE"
            totals.facts_disagree += f.result == "DISAGREE"
            totals.facts_unchecked += f.result == "not checked"
    lines.append("")
    lines.append(f"flows: {totals.flows}; covered {totals.covered}, partly covered {totals.partly} (compared, with a part "
                 f"named as not compared), uncovered {totals.uncovered}")
    lines.append(f"compared: {totals.agree + totals.disagree}; agree {totals.agree}, disagree {totals.disagree}")
    if totals.reasons:
        lines.append("not compared, by reason (flows and reply legs): " + "; ".join(
            f"{k} {v}" for k, v in sorted(totals.reasons.items(), key=lambda kv: (-kv[1], kv[0]))))
    lines.append(f"other facts: agree {totals.facts_agree}, disagree {totals.facts_disagree}, "
                 f"not checked {totals.facts_unchecked}")
    return lines, totals


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verify_outside/batfish.py",
                                     description="Compare the reachability analyzer with Batfish's AWS snapshots.")
    parser.add_argument("folder", type=Path, help="the folder holding external-oracles/ (e.g. ../shared/fixtures)")
    parser.add_argument("--snapshot", help="only this snapshot (e.g. test-nat-gateway)")
    parser.add_argument("--keep-snapshots", type=Path, metavar="DIR",
                        help="write the converted auditor snapshots into DIR (new folder) instead of a temporary one")
    args = parser.parse_args(argv)
    try:
        if args.keep_snapshots is not None:
            args.keep_snapshots.mkdir(parents=True, exist_ok=False)
        lines, totals = run(args.folder, args.snapshot, args.keep_snapshots)
    except (CorpusError, FileExistsError) as exc:
        echo(f"error: {safe(exc)}", err=True)
        return EXIT_INPUT
    for line in lines:
        echo(safe(line))
    return EXIT_DISAGREE if totals.disagree or totals.facts_disagree else EXIT_AGREE


if __name__ == "__main__":
    sys.exit(main())
