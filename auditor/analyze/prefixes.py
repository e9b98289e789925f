"""Destination prefixes as integers, and longest-prefix match of a traffic class over a
route table: the arithmetic under the reachability analysis (auditor/analyze/reachability.py).

A *traffic class* is a destination prefix less the more specific prefixes (all inside it)
that earlier hops sent elsewhere. `partition` splits a class over a table's routes exactly
as AWS matches each destination address (most specific route first), without enumerating
addresses.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import NamedTuple
from collections.abc import Iterable

__all__ = ["Net", "parse_net", "holds_internet", "RouteEntry", "Traffic", "partition", "covered", "priority", "ALL",
           "FAMILY"]


class Net(NamedTuple):
    """A CIDR as integers: version, first and last address, prefix length."""

    version: int
    start: int
    end: int
    plen: int

    def contains(self, other: Net) -> bool:
        return self.version == other.version and self.start <= other.start and other.end <= self.end

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    @property
    def text(self) -> str:
        return _net_text(self)


@lru_cache(maxsize=65536)
def parse_net(cidr: str) -> Net | None:
    """A CIDR (or address) as a `Net`; None when it is not one."""
    try:
        n = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None
    start = int(n.network_address)
    return Net(n.version, start, start + n.num_addresses - 1, n.prefixlen)


@lru_cache(maxsize=65536)
def _net_text(n: Net) -> str:
    return str(ipaddress.IPv4Network((n.start, n.plen)) if n.version == 4
               else ipaddress.IPv6Network((n.start, n.plen)))


# Address blocks never reached over the internet: private (RFC 1918, unique local), shared
# (carrier-grade NAT), link-local, loopback and "this network". A prefix inside one of them
# holds no internet address; any other prefix does (documentation ranges included: an
# internet gateway forwards them like any public address).
_PRIVATE_BLOCKS = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                   "192.168.0.0/16", "::/128", "::1/128", "fc00::/7", "fe80::/10")


@lru_cache(maxsize=65536)
def holds_internet(n: Net) -> bool:
    """Whether a prefix holds internet addresses: 0.0.0.0/0 and 198.51.100.0/24 do,
    10.0.0.0/8 and fd00::/8 do not."""
    return not any(b.contains(n) for b in _BLOCKS)


_BLOCKS = tuple(n for n in map(parse_net, _PRIVATE_BLOCKS) if n is not None)
ALL = {4: Net(4, 0, 2**32 - 1, 0), 6: Net(6, 0, 2**128 - 1, 0)}
FAMILY = {4: "ipv4", 6: "ipv6"}
Traffic = tuple[Net, frozenset[Net]]          # a destination prefix less more specific ones (all inside it)


class RouteEntry(NamedTuple):
    """One route of a table, ready for longest-prefix match (a prefix list gives one per CIDR)."""

    net: Net
    text: str                 # as paths print it: "0.0.0.0/0", "pl-1 (10.0.0.0/8)"
    kind: str                 # target kind; "attachment" for transit gateway routes
    target: str
    targets: tuple[str, ...]  # transit gateway routes: the attachments (ECMP)
    active: bool
    prefix_list: bool
    propagated: bool = False  # learned (VPN / Direct Connect propagation, a TGW propagation), not static


def priority(e: RouteEntry) -> tuple[int, bool, bool]:
    """How a route ranks against others for the same traffic, highest first: the more
    specific destination, then a static route over a propagated one, then a CIDR route over a
    prefix-list entry (AWS route priority: longest prefix, static routes, prefix-list routes,
    propagated routes; transit gateways: static before propagated)."""
    return (e.net.plen, not e.propagated, not e.prefix_list)


def _better(a: RouteEntry, b: RouteEntry) -> bool:
    """Whether `a` wins over `b` for the same traffic (`priority`)."""
    return priority(a) > priority(b)


def partition(entries: Iterable[RouteEntry], traffic: Traffic) -> list[tuple[RouteEntry, Traffic]]:
    """Longest-prefix match of a traffic class over a table: each route that takes a
    non-empty part of the class, with that part (its prefix and the more specific prefixes
    inside it that go elsewhere or were excluded before), in address order."""
    net, excluded = traffic
    best: dict[Net, RouteEntry] = {}
    for e in entries:
        n = e.net
        if n.version != net.version:
            continue
        if n.start <= net.start and net.end <= n.end:
            part = net                       # the route covers the whole class
        elif net.start <= n.start and n.end <= net.end:
            part = n                         # the route is more specific than the class
        else:
            continue
        current = best.get(part)
        if current is None or _better(e, current):
            best[part] = e
    if not best:
        return []
    nodes: dict[Net, RouteEntry | None] = dict(best)
    for x in excluded:
        nodes[x] = None                      # excluded: whatever route there is does not see it
    order = sorted(nodes, key=lambda n: (n.start, -n.end))
    children: dict[Net, list[Net]] = {n: [] for n in order}
    blocked: set[Net] = set()
    stack: list[Net] = []
    for n in order:
        while stack and not (stack[-1].start <= n.start and n.end <= stack[-1].end):
            stack.pop()
        if stack:
            parent = stack[-1]
            children[parent].append(n)
            if nodes[parent] is None or parent in blocked:
                blocked.add(n)
        stack.append(n)
    out: list[tuple[RouteEntry, Traffic]] = []
    for n in order:
        entry = nodes[n]
        if entry is None or n in blocked:
            continue
        kids = children[n]
        if sum(k.size for k in kids) >= n.size:
            continue                         # more specific routes take all of it
        out.append((entry, (n, frozenset(kids))))
    return out


def covered(net: Net, excluded: frozenset[Net]) -> bool:
    """Whether the excluded prefixes (disjoint or nested) cover all of `net`."""
    inside = sorted((x for x in excluded if net.contains(x)), key=lambda n: (n.start, -n.end))
    if any(x.contains(net) for x in excluded):
        return True
    total, last_end = 0, -1
    for x in inside:
        if x.start > last_end:
            total += x.size
            last_end = x.end
    return total >= net.size
