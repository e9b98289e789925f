"""What filters admit, as sets of protocols and port ranges: security group rules and
network ACL entries for the ingress side of the reachability analysis.

`Ports` maps a protocol (tcp, udp, icmp, icmpv6, "protocol N", or "other": every protocol
not named) to merged port intervals; ICMP and port-less protocols count as a whole. The
text form is what findings print: "tcp 22", "tcp 1024-65535", "udp 53", "icmp", "all".
"""

from __future__ import annotations

from auditor.analyze.prefixes import Net, holds_internet, parse_net
from auditor.model.types import NetworkAcl

__all__ = ["Interval", "Ports", "matches", "union", "subtract", "intersect", "minus", "ports_text", "acl_admits"]

Interval = tuple[int, int]
Ports = dict[str, list[Interval]]      # protocol -> port intervals; "other" = every protocol not named
_FULL: Interval = (0, 65535)
_BASE = ("tcp", "udp", "icmp", "icmpv6", "other")
_PROTOCOLS = {"-1": "all", "all": "all", "6": "tcp", "tcp": "tcp", "17": "udp", "udp": "udp", "1": "icmp",
              "icmp": "icmp", "58": "icmpv6", "icmpv6": "icmpv6"}


def _proto_key(protocol: str) -> str:
    p = protocol.strip().lower()
    return _PROTOCOLS.get(p, f"protocol {p}")


def matches(protocol: str, from_port: int | None, to_port: int | None) -> Ports | None:
    """What a rule or ACL entry matches; None when a TCP/UDP one has an unreadable range."""
    key = _proto_key(protocol)
    if key == "all":
        return {k: [_FULL] for k in _BASE}
    if key in ("tcp", "udp"):
        lo = 0 if from_port is None or from_port == -1 else from_port
        hi = 65535 if to_port is None or to_port == -1 else to_port
        if lo > hi:
            return None
        return {key: [(lo, hi)]}
    return {key: [_FULL]}   # ICMP (types, not ports) and other protocols: the whole protocol


def _merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted, overlapping and adjacent intervals joined."""
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def union(a: Ports, b: Ports) -> Ports:
    """What either admits."""
    return {k: _merge(a.get(k, []) + b.get(k, [])) for k in set(a) | set(b)}


def _of(p: Ports, key: str) -> list[Interval]:
    """The intervals of a protocol, counting "other" for protocols not named apart."""
    own = p.get(key, [])
    return _merge(own + p.get("other", [])) if key not in _BASE else own


def minus(spans: list[Interval], taken: list[Interval]) -> list[Interval]:
    """The parts of `spans` no interval of `taken` covers."""
    parts = list(spans)
    for lo, hi in taken:
        rest: list[Interval] = []
        for a, b in parts:
            if hi < a or b < lo:
                rest.append((a, b))
                continue
            if a < lo:
                rest.append((a, lo - 1))
            if hi < b:
                rest.append((hi + 1, b))
        parts = rest
    return parts


def subtract(a: Ports, b: Ports) -> Ports:
    """What `a` admits and `b` does not. A protocol `b` names apart ("protocol 47") is not taken
    out of `a`'s "other" (which then still admits it: an over-approximation, never an under-)."""
    out = {k: minus(v, _of(b, k)) for k, v in a.items()}
    return {k: v for k, v in out.items() if v}


def intersect(a: Ports, b: Ports) -> Ports:
    """What both admit."""
    out: Ports = {}
    for k in set(a) | set(b):
        left, right = _of(a, k), _of(b, k)
        both = _merge([(max(x, y), min(p, q)) for x, p in left for y, q in right if max(x, y) <= min(p, q)])
        if both:
            out[k] = both
    return out


def ports_text(p: Ports) -> tuple[str, ...]:
    """As findings print it: ("all",) for every protocol and port, else ("tcp 22", "tcp
    1024-65535", "udp all ports", "icmp", "protocol 47", "other protocols") in that order."""
    if all(p.get(k) == [_FULL] for k in _BASE):
        return ("all",)
    rank = {"tcp": 0, "udp": 1, "icmp": 2, "icmpv6": 3, "other": 5}   # "protocol N" between
    out: list[str] = []
    for k in sorted(p, key=lambda k: (rank.get(k, 4), k)):
        spans = p[k]
        if k in ("tcp", "udp"):
            for lo, hi in spans:
                out.append(f"{k} all ports" if (lo, hi) == _FULL else f"{k} {lo}" if lo == hi else f"{k} {lo}-{hi}")
        elif k == "other":
            out.append("other protocols")
        else:
            out.append(k)
    return tuple(out)


def acl_admits(acl: NetworkAcl, version: int) -> tuple[Ports | None, str | None]:
    """What a network ACL's inbound entries admit from internet sources of one family: an
    allow entry whose source holds internet addresses admits its traffic less what earlier
    entries (lower rule numbers) with a source containing its source decided already.
    (None, reason) when an entry cannot be read."""
    admitted: Ports = {}
    earlier: list[tuple[Net, Ports]] = []
    for e in sorted((e for e in acl.entries if not e.egress), key=lambda e: e.rule_number):
        cidr = e.cidr if version == 4 else e.ipv6_cidr
        if cidr is None:
            continue
        n = parse_net(cidr)
        t = matches(e.protocol, e.from_port, e.to_port)
        action = e.action.lower()
        if n is None or t is None or action not in ("allow", "deny"):
            return None, f"{acl.id}: inbound entry {e.rule_number} not understood"
        if action == "allow" and holds_internet(n):
            decided: Ports = {}
            for m, mt in earlier:
                if m.contains(n):
                    decided = union(decided, mt)
            admitted = union(admitted, subtract(t, decided))
        earlier.append((n, t))
    return admitted, None
