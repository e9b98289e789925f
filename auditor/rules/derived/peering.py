"""Derived attributes for the peering-scope rules (NET-RT-05: PN-017, PN-018).

A VPC peering connection carries traffic only to the peer VPC's CIDRs: AWS never forwards
it beyond the peer (no transit). A route that sends a wider destination to a peering
(``0.0.0.0/0 → pcx-1``, ``10.0.0.0/8 → pcx-1`` when the peer is 10.1.0.0/16) states an
intent the network does not honour today and hands the peer whatever it later adds to its
address space; it is what reviewers call an over-broad peering route. Each route table
gets:

- ``peering_routes_outside_peer``: the routes to peering connections whose destination is
  not within one of the peer VPC's CIDRs (IPv4 ``CidrBlockSet``, IPv6 ``Ipv6CidrBlockSet``
  of the side of the connection that is not the table's VPC), one line each. A prefix-list
  destination is within only when every one of its entries is.
- ``peering_peers``: the peer (VPC, owner account) of each route to a peering connection,
  for the approved-peers check, which the rule's condition applies (a derived attribute
  cannot read pack parameters).

Unknown is never "within": a peering connection the model does not hold, sides that do not
name the table's VPC, peer CIDRs AWS did not report, prefix-list entries not collected or a
peering status we do not know make the answer unknown (null, with why), unless the
destination is wider than any VPC can be: a VPC's IPv4 CIDRs are /16 to /28 and its IPv6
CIDRs /44 to /60, so ``0.0.0.0/0`` or ``10.0.0.0/8`` to a peering is outside its peer
whatever the peer holds. A definite route outside is enough to FAIL whatever else is unknown.

Inactive peerings. AWS shows a route to a peering that is not active as a blackhole, and
what happens next depends on the status:

- pending-acceptance, initiating-request, provisioning: the connection becomes active the
  moment the peer accepts, and the route with it, unchanged. Such routes are judged as if
  active (the intent is in the route; the audit must not wait for the peer to accept).
- deleting, deleted, rejected, failed, expired: the connection never carries traffic again
  (a new one gets a new id), so its routes forward nothing, now or later. They are left
  out, as blackhole routes are everywhere else. A blackhole route to a peering that is no
  longer listed at all (AWS lists deleted connections only for a while) is left out too:
  a pending one would be listed.
- any other status, or none: unknown.

The evidence is the route table, the failing routes' own records and every peering
connection and prefix list read; each failing route is explained with Reachability Analyzer's
code PCX_REQUIRES_ADDRESS_IN_VPC_CIDR (`Derived.explain`).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.analyze.explain import Stop
from auditor.analyze.prefixes import Net, parse_net
from auditor.model.types import Model, PeeringSide, PrefixList, Route, RouteTable, SourceRef, VpcPeering
from auditor.rules.derive import Derived, DerivedAttribute, derived, ec2, own_sources, refs

PEERING_CALLS = ec2("DescribeRouteTables", "DescribeVpcPeeringConnections", "DescribeManagedPrefixLists",
                    "GetManagedPrefixListEntries")

# Peering statuses (DescribeVpcPeeringConnections Status.Code) whose connection becomes active
# without the route changing, and those whose connection is gone for good.
_PENDING = frozenset({"pending-acceptance", "initiating-request", "provisioning"})
_GONE = frozenset({"deleting", "deleted", "rejected", "failed", "expired"})
# The widest CIDR a VPC can hold, per IP version (IPv4 /16 to /28; IPv6 /44 to /60 from IPAM,
# /56 Amazon-provided): a destination wider than this is outside any peer.
_WIDEST_VPC_PREFIX = {4: 16, 6: 44}


@dataclass(frozen=True)
class PeeringPeer:
    """The other side of a route's peering connection, as the approved-peers check reads it."""

    route: str                     # e.g. "10.1.0.0/16 → pcx-1"
    peering: str                   # pcx id
    vpc_id: str | None             # None when not known
    account: str | None            # the peer VPC's owner account; None when not known
    # What approved_peers may name for this peer: its VPC id and its owner account; an
    # unknown one is null, so that no list of approved peers decides it (ERROR, never PASS).
    approval_keys: tuple[str | None, ...]


@dataclass(frozen=True)
class _Peer:
    """A route's peering, as far as the model tells: `side` None with `why` when unknown."""

    peering: VpcPeering | None
    side: PeeringSide | None
    why: str = ""


def _route_text(route: Route) -> str:
    return f"{route.destination} → {route.target_id}"


def _peer(model: Model, rt: RouteTable, route: Route) -> _Peer | None:
    """The peer side of the route's peering; None when the route is left out (its
    connection is gone for good)."""
    pcx = model.get("vpc_peering", route.target_id, rt.account, rt.region)
    if not isinstance(pcx, VpcPeering):
        if route.state == "blackhole":
            return None
        return _Peer(None, None, f"{route.target_id}: peering connection not in the model "
                                 "(ec2:DescribeVpcPeeringConnections)")
    status = pcx.status.lower()
    if status in _GONE:
        return None
    if status != "active" and status not in _PENDING:
        return _Peer(pcx, None, f"{pcx.id}: peering connection status {pcx.status or '(none)'!r} not known")
    sides = [s for s in (pcx.requester, pcx.accepter) if s is not None]
    peers = [s for s in sides if s.vpc_id != rt.vpc_id]
    if len(sides) != 2 or len(peers) != 1 or not peers[0].vpc_id:
        return _Peer(pcx, None, f"{pcx.id}: peering sides unknown or not of {rt.vpc_id}")
    return _Peer(pcx, peers[0])


def _peer_cidrs(peer: _Peer, version: int) -> tuple[tuple[Net, ...] | None, str]:
    """The peer VPC's CIDRs of an IP version, parsed; (None, why) when not known."""
    if peer.side is None:
        return None, peer.why
    texts = peer.side.cidrs if version == 4 else peer.side.ipv6_cidrs
    nets = tuple(n for n in (parse_net(t) for t in texts) if n is not None and n.version == version)
    if not nets or len(nets) != len(texts):
        family = "IPv4" if version == 4 else "IPv6"
        pcx = peer.peering.id if peer.peering else "?"
        return None, f"{pcx}: {family} CIDRs of the peer VPC {peer.side.vpc_id} not reported"
    return nets, ""


def _outside(dest: str, peer: _Peer) -> tuple[bool | None, str]:
    """Whether a destination CIDR is outside every peer CIDR of its version (None: unknown, why)."""
    net = parse_net(dest)
    if net is None:
        return None, f"destination {dest!r} is not a CIDR"
    cidrs, why = _peer_cidrs(peer, net.version)
    if cidrs is None:
        if net.plen < _WIDEST_VPC_PREFIX[net.version]:
            return True, ""   # wider than any VPC: outside the peer whatever it holds
        return None, why
    return not any(c.contains(net) for c in cidrs), ""


def _peer_text(peer: _Peer, version: int) -> str:
    """``peer vpc-b 10.1.0.0/16`` for the route's text."""
    if peer.side is None:
        return f"peer unknown: {peer.why}"
    cidrs = peer.side.cidrs if version == 4 else peer.side.ipv6_cidrs
    family = "IPv4" if version == 4 else "IPv6"
    return f"peer {peer.side.vpc_id} " + (", ".join(cidrs) if cidrs else f"(no {family} CIDR reported)")


@dataclass
class _Scan:
    outside: list[str]
    unknown: list[str]
    peerings: dict[str, VpcPeering]
    prefix_lists: dict[str, PrefixList]
    route_sources: list[SourceRef]
    explain: list[str]


def _judge(model: Model, rt: RouteTable, route: Route, peer: _Peer, scan: _Scan) -> None:
    """Adds the route to `scan.outside` (a definite text) or `scan.unknown` (why)."""
    if route.destination_kind == "prefix_list":
        pl = model.get("prefix_list", route.destination, rt.account, rt.region)
        if isinstance(pl, PrefixList):
            scan.prefix_lists[pl.id] = pl
        if route.destination_cidrs is None:
            scan.unknown.append(f"{_route_text(route)}: entries of prefix list {route.destination} not collected "
                                "(ec2:GetManagedPrefixListEntries)")
            return
        entries = route.destination_cidrs
    else:
        entries = (route.destination,)
    bad: list[str] = []
    whys: list[str] = []
    for entry in entries:
        out, why = _outside(entry, peer)
        if out:
            bad.append(entry)
        elif out is None:
            whys.append(why)
    if bad:
        version = parse_net(bad[0])
        peer_part = _peer_text(peer, version.version if version else 4)
        shown = route.destination if route.destination_kind != "prefix_list" else \
            f"{route.destination} [{', '.join(bad)}]"
        scan.outside.append(f"{shown} → {route.target_id} ({peer_part})")
        # In Reachability Analyzer's words: what the peering drops of what the route sends it.
        scan.explain.append(Stop(f"{rt.id} {route.destination} → {route.target_id}", "PCX_REQUIRES_ADDRESS_IN_VPC_CIDR",
                                 f"{', '.join(bad)} outside {peer_part}").text)
        if route.source is not None:
            scan.route_sources.append(route.source)
    elif whys:
        scan.unknown.extend(f"{_route_text(route)}: {w}" for w in dict.fromkeys(whys))


def _peering_routes(rt: RouteTable) -> tuple[Route, ...]:
    return tuple(r for r in rt.routes if r.target_kind == "pcx")


@derived("route_table", "peering_routes_outside_peer", requires=PEERING_CALLS,
         doc="The table's routes to VPC peering connections whose destination is not within one of the peer "
             "VPC's CIDRs (IPv4 or IPv6, of the side that is not the table's VPC), one line each, e.g. "
             "\"0.0.0.0/0 → pcx-1 (peer vpc-b 10.1.0.0/16)\"; a prefix list is within only when every entry is "
             "(the entries outside are named: \"pl-1 [10.0.0.0/8] → pcx-1 (...)\"). Routes to pending peerings "
             "count (they carry traffic once accepted); routes to deleted, rejected, failed or expired ones, and "
             "blackhole routes to peerings no longer listed, are left out. Null when none is definitely outside "
             "and some route's peering, peer CIDRs, status or prefix-list entries are not known; a destination "
             "wider than any VPC (IPv4 wider than /16, IPv6 wider than /44) is outside whatever the peer holds.")
def _outside_peer(model: Model, rt: RouteTable) -> Derived[tuple[str, ...] | None]:
    scan = _Scan([], [], {}, {}, [], [])
    for route in _peering_routes(rt):
        peer = _peer(model, rt, route)
        if peer is None:
            continue
        if peer.peering is not None:
            scan.peerings[peer.peering.id] = peer.peering
        _judge(model, rt, route, peer, scan)
    sources = (*own_sources(rt), *scan.route_sources, *refs(scan.peerings.values()),
               *refs(scan.prefix_lists.values()))
    if not scan.outside and scan.unknown:
        return Derived(None, sources, why=tuple(dict.fromkeys(scan.unknown)))
    return Derived(tuple(scan.outside), sources, explain=tuple(scan.explain))


@derived("route_table", "peering_peers", requires=ec2("DescribeRouteTables", "DescribeVpcPeeringConnections"),
         doc="The peer of each of the table's routes to a VPC peering connection (routes to deleted, rejected, "
             "failed or expired peerings, and blackhole routes to peerings no longer listed, left out): the "
             "route, the peering id, the peer VPC's id and owner account (null when not known), and "
             "approval_keys, the two of them as a list, which a rule compares with its list of approved peers "
             "(an unknown key is null, so that it decides nothing).")
def _peers(model: Model, rt: RouteTable) -> Derived[tuple[PeeringPeer, ...]]:
    out: list[PeeringPeer] = []
    peerings: dict[str, VpcPeering] = {}
    for route in _peering_routes(rt):
        peer = _peer(model, rt, route)
        if peer is None:
            continue
        if peer.peering is not None:
            peerings[peer.peering.id] = peer.peering
        vpc_id = peer.side.vpc_id if peer.side else None
        account = (peer.side.account or None) if peer.side else None
        out.append(PeeringPeer(_route_text(route), route.target_id, vpc_id, account, (vpc_id, account)))
    return Derived(tuple(out), (*own_sources(rt), *refs(peerings.values())))


ATTRIBUTES: tuple[DerivedAttribute, ...] = (_outside_peer, _peers)
