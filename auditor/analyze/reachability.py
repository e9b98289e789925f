"""Reachability: the paths by which traffic leaves a subnet or network interface.

Pure over the model (no AWS access), in the spirit of VPC Reachability Analyzer but for
every source at once and without packet headers beyond the destination prefix. For each
subnet the analysis follows its *effective* route table (`Subnet.route_table_id`: the
explicit association, else its VPC's main table) and every hop after it, and reports each
way out as a `Path` to one of three destinations:

- ``internet``: an internet gateway (IPv4 or IPv6 by the destination), an egress-only
  internet gateway (IPv6) or a carrier gateway, reached directly or through NAT gateways
  (public or private), NAT instances and appliances, Gateway Load Balancer endpoints and
  transit gateways (the central egress VPC);
- ``on_premises``: a virtual private gateway, an Outposts local gateway, or a transit
  gateway VPN / Direct Connect gateway attachment;
- ``vpc``: another VPC, through a peering connection (its CIDRs only: peering never
  transits to the peer's gateways) or a transit gateway VPC attachment whose VPC delivers
  the traffic locally.

How traffic is followed. A *traffic class* is a destination prefix minus the more
specific prefixes that earlier hops sent elsewhere. It starts as 0.0.0.0/0 and ::/0 at the
subnet's table. In every table (VPC route table or transit gateway route table) the class
is split by longest-prefix match: each route whose destination overlaps the class takes
the part of it that no more specific route (or earlier exclusion) takes, and that part, if
not empty, goes on to the route's target. Prefix-list routes count as one route per CIDR
of the list. Blackhole routes take their part and carry nothing. So every reachable target
is found, and a route that is wholly shadowed is not followed.

Hop semantics:

- ``local`` delivers to the table's VPC: a ``vpc`` path unless that is the source VPC;
- ``nat`` (public or private NAT gateway), ``instance`` and ``eni`` (NAT instances and
  appliances), ``gwlbe`` (and ``vpce`` targets that are Gateway Load Balancer endpoints)
  continue through the route table of the gateway's, instance's or endpoint's own subnet(s);
  other VPC endpoints end the path (the AWS service network);
- ``tgw``: the transit gateway route table associated with the *source attachment* (the
  attachment of the current table's VPC on that transit gateway), longest-prefix match on
  its routes, then the target attachment: a ``vpc`` attachment continues through the
  route tables of the attachment's subnets in that VPC; ``vpn`` and
  ``direct-connect-gateway`` attachments are on-premises; a ``peering`` attachment
  continues on the peer transit gateway when the model holds the peer side of the
  attachment (its association), else it is indeterminate;
- ``pcx``: the peer VPC's CIDRs intersected with the traffic class, each a ``vpc`` path;
- ``core_network`` (Cloud WAN), ``odb``, ``route_server`` and unknown targets are
  indeterminate (not analysed).

A route of the subnet's own table to an internet, egress-only or carrier gateway is an
internet path whatever its destination (a narrow public CIDR, a prefix list, even a
private range: the catalogue's strict reading, as rule PN-002). A gateway reached after
other hops is an internet path when the traffic that reaches it holds internet
destinations (anything but private, shared, link-local and loopback blocks; see
`holds_internet`): traffic for 10.0.0.0/8 that a transit gateway happens to hand to an
egress VPC's NAT goes nowhere on the internet. Otherwise any internet gateway reached counts,
whether or not a NAT translated the traffic first (AWS drops untranslated private traffic
at an internet gateway of another VPC; the analysis errs on the side of reporting the
path), except after a private NAT gateway: its translated traffic is dropped by an internet
gateway unless a public NAT, a NAT instance or an appliance translates it again (see
`_untranslated_dropped`). NAT gateways, instances and appliances are followed whatever
their public addresses.

Loops are cut when a path reaches a table it already went through for the same
destination prefix, and reported in `Reachability.loops`. Whatever cannot be resolved (a
table, gateway, instance, interface, endpoint, peering, attachment or prefix list not in
the model; transit gateway routes or associations not collected; an active transit gateway
route with no attachment; a state, type or subnet not reported) is reported in
`Reachability.indeterminate` with the reason: the paths found are then a lower bound.
Missing data is never read as "no path"; only what the data shows for certain (a blackhole
route, a deleted gateway or attachment, a peering that is not active, an attachment with
no association) carries nothing. docs/reachability.md lists every such branch.

Ingress (`internet_ingress_ports`): a network interface is reachable from the internet
over IPv4 when it has a public IPv4 address and its subnet's effective table has an active
route to an internet gateway (any IPv4 destination), and over IPv6 likewise with an IPv6
address and an IPv6 route. What reaches it is what both its security groups (inbound
rules whose source holds internet addresses: 0.0.0.0/0, ::/0, any CIDR not wholly inside
a private block, or a prefix list holding one) and its subnet's network ACL (inbound
entries in rule-number order, first match wins) admit.

Results are cached per model (the model is immutable), by the model itself (`Model.memo`):
rules, reports and benchmarks share them, and they die with the model. The prefix
arithmetic and longest-prefix match live in `auditor.analyze.prefixes`, the protocol and
port sets of the ingress side in `auditor.analyze.ports`. docs/reachability.md describes it
all for rule authors.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace, field
from collections.abc import Callable, Iterable

from auditor.analyze.explain import Stop
from auditor.analyze.ports import Ports, acl_admits, intersect, matches, ports_text, union
from auditor.analyze.prefixes import (
    ALL, FAMILY, Net, RouteEntry, Traffic, covered, holds_internet, parse_net, partition, priority,
)
from auditor.model.types import (
    Instance, Model, NatGateway, NetworkAcl, NetworkInterface, PrefixList, Resource, RouteTable, SecurityGroup,
    SecurityGroupRule, Subnet, TransitGatewayAttachment, TransitGatewayRouteTable, VpcEndpoint, VpcPeering,
)

__all__ = ["Hop", "Path", "Reachability", "Stop", "subnet_reachability", "interface_reachability", "subnet_trace",
           "internet_ingress_ports", "internet_ingress_explained", "ingress_resources", "path_resources",
           "DESTINATIONS", "MAX_HOPS"]

DESTINATIONS = ("internet", "on_premises", "vpc")
MAX_HOPS = 64                     # a path longer than this is cut and reported indeterminate
_DEST_RANK = {d: i for i, d in enumerate(DESTINATIONS)}
_GONE_NAT_STATES = frozenset({"deleting", "deleted", "failed"})
_GONE_ATTACHMENT_STATES = frozenset({"deleting", "deleted", "failed", "rejected", "rejecting"})
_PRIVATE_INTERNET = "internet (private addresses)"   # internal: see `_Analyzer.target`
_UNKNOWN_STATE = "unknown state"                      # internal: see `_Analyzer.tgw_entries`
# VPC endpoint types (DescribeVpcEndpoints VpcEndpointType) that end a path in the AWS
# service network; a Gateway Load Balancer endpoint continues; any other is indeterminate.
_PROPAGATED_ORIGIN = "EnableVgwRoutePropagation"   # DescribeRouteTables Route.Origin of a propagated route
_SERVICE_ENDPOINTS = frozenset({"gateway", "interface", "resource", "servicenetwork"})
# VPC peering status codes under which no traffic flows (AWS: only "active" carries).
_IDLE_PEERING = frozenset({"initiating-request", "pending-acceptance", "provisioning", "deleting", "deleted",
                           "rejected", "failed", "expired"})


# -- the answer ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a path.

    `kind` is one of subnet, route_table, igw, eigw, nat, instance, eni, gwlbe, tgw,
    tgw_route_table, attachment, pcx, vgw, lgw, carrier, vpc. `route` is the destination of
    the route that admitted the next step (``0.0.0.0/0``; ``pl-123 (10.0.0.0/8)`` for a
    prefix-list entry; for a peering the peer CIDR reached). `label` says more where the
    id alone does not: for an attachment, what it leads to (a VPC, VPN or Direct Connect
    gateway id)."""

    kind: str
    id: str
    route: str = ""
    label: str = ""

    @property
    def text(self) -> str:
        name = f"attachment {self.label or self.id}" if self.kind == "attachment" else self.id
        return f"{name} {self.route}" if self.route else name


@dataclass(frozen=True, slots=True)
class Path:
    """One way out: where it leads (internet, on_premises, vpc), the address family of the
    traffic (ipv4, ipv6) and the hops from the source to the last gateway or VPC."""

    destination: str
    family: str
    hops: tuple[Hop, ...]

    @property
    def text(self) -> str:
        """``subnet-a → rtb-1 0.0.0.0/0 → tgw-1 → tgw-rtb-2 0.0.0.0/0 → attachment vpc-egress → ...``"""
        return " → ".join(h.text for h in self.hops)

    @property
    def codes(self) -> tuple[str, ...]:
        """What the path's hops do, as explanation codes (auditor/analyze/explain.py), each
        with the hop it applies to: ``NGW_SOURCE_ADDRESS_REASSIGN at nat-9``, and last how
        it ends (``REACHES_INTERNET_GATEWAY igw-4``)."""
        out: list[str] = []
        for hop in self.hops:
            if hop.kind == "nat":
                out += [f"NGW_SOURCE_ADDRESS_REASSIGN at {hop.id}", f"NGW_DEST_ADDRESS_PRESERVATION at {hop.id}",
                        f"REMAP_EPHEMERAL_PORT at {hop.id}"]
        last = self.hops[-1] if self.hops else None
        if last is not None:
            # the source's own table's route: nothing but the source (an interface, its subnet)
            # and that one table before the gateway
            own = (self.destination == "internet" and len(self.hops) >= 2
                   and sum(h.kind == "route_table" for h in self.hops) == 1
                   and all(h.kind in ("eni", "subnet", "route_table") for h in self.hops[:-1]))
            end = ("OWN_ROUTE_TO_INTERNET_GATEWAY" if own else
                   _ENDS.get(last.kind, "REACHES_VPC" if self.destination == "vpc" else "REACHES_ON_PREMISES"))
            out.append(f"{end} {last.label or last.id}")
        return tuple(out)

    @property
    def explained(self) -> str:
        """The path's text and its codes: ``subnet-a → ... → igw-4 [NGW_SOURCE_ADDRESS_REASSIGN at nat-9; ...]``."""
        return f"{self.text} [{'; '.join(self.codes)}]"


_ENDS = {"igw": "REACHES_INTERNET_GATEWAY", "eigw": "REACHES_EGRESS_ONLY_GATEWAY",
         "carrier": "REACHES_CARRIER_GATEWAY", "vpc": "REACHES_VPC"}


@dataclass(frozen=True)
class Reachability:
    """Every path found from one source, sorted (destination, family, text); the reasons why
    some hop could not be resolved (the paths are then a lower bound); the loops cut; and
    where every other part of the traffic stopped, or could not be followed, with its
    explanation code (`stops`, sorted by text: uncertain ones repeat `indeterminate` with
    their hops and code)."""

    paths: tuple[Path, ...]
    indeterminate: tuple[str, ...]
    loops: tuple[str, ...]
    stops: tuple[Stop, ...] = ()

    def of(self, destination: str, family: str | None = None) -> tuple[Path, ...]:
        """The paths to `destination`, of one address family when given."""
        return tuple(p for p in self.paths if p.destination == destination and (family is None or p.family == family))


# -- the analysis ------------------------------------------------------------------------

Suffix = tuple[Hop, ...]
_RawPath = tuple[str, str, Suffix]        # destination, family, hops
_RawStop = tuple[Suffix, str, str, bool]  # hops up to the stop, code, detail, certain
Reason = tuple[str, str]                  # code, reason in words
_INF = 1 << 30


@dataclass(frozen=True)
class _Sub:
    """What one node of the search found: paths and loops as hop suffixes from the node,
    reasons, the loop keys of every node under it (`footprint`), and the shallowest stack
    depth a loop under it ran into (`outer`: above the node, the result depends on how the
    node was reached and is not reused)."""

    paths: tuple[_RawPath, ...] = ()
    unknown: tuple[str, ...] = ()
    loops: tuple[Suffix, ...] = ()
    footprint: frozenset[tuple[str, str, Net]] = frozenset()
    outer: int = _INF
    stops: tuple[_RawStop, ...] = ()


def _stop(code: str, detail: str, *hops: Hop) -> _Sub:
    """A part of the traffic that goes no further, for certain."""
    return _Sub(stops=((hops, code, detail, True),))


def _unknown(code: str, reason: str, *hops: Hop) -> _Sub:
    """A part of the traffic that cannot be followed: the reason (as rules report it) and its code."""
    return _Sub(unknown=(reason,), stops=((hops, code, reason, False),))


_EMPTY = _Sub()
Key = tuple[str, str, str]                # account, region, id


def _key(r: Resource) -> Key:
    return (r.account, r.region, r.id)


class _Analyzer:
    """The analysis of one model: indexes, compiled tables and results, kept while the model
    lives."""

    def __init__(self, model: Model):
        # The model keeps this analysis: a weak reference back lets the model be freed as
        # soon as it is dropped, without the cyclic collector (the engine pauses it).
        self._model = weakref.ref(model)
        self.entries: dict[tuple[str, Key], tuple[tuple[RouteEntry, ...], tuple[Reason, ...]]] = {}
        self.parts: dict[tuple[str, Key, Traffic], list[tuple[RouteEntry, Traffic]]] = {}
        self.memo: dict[tuple[str, Key, Traffic, str], _Sub] = {}
        self.zone_keys: dict[tuple[Key, str], str] = {}
        self.starts: dict[tuple[Key, str, str], tuple[tuple[_RawPath, ...], tuple[str, ...], tuple[Suffix, ...],
                                                 tuple[_RawStop, ...]]] = {}
        self.subnets: dict[Key, Reachability] = {}
        self.interfaces: dict[Key, Reachability] = {}
        self.ingress: dict[Key, tuple[tuple[str, ...] | None, tuple[str, ...], tuple[str, ...]]] = {}
        self._att_by_vpc: dict[tuple[str, str], list[TransitGatewayAttachment]] | None = None
        self._att_by_id: dict[str, list[TransitGatewayAttachment]] | None = None
        self._assoc: dict[str, str] | None = None
        self._tgw_tables: dict[str, list[TransitGatewayRouteTable]] | None = None
        self._enis_by_instance: dict[tuple[str, str, str], list[NetworkInterface]] | None = None
        self._acl_by_subnet: dict[Key, NetworkAcl] | None = None
        self._rules_by_group: dict[Key, list[SecurityGroupRule]] | None = None

    @property
    def model(self) -> Model:
        model = self._model()
        assert model is not None, "the model of this analysis is gone"
        return model

    # -- look-ups ----------------------------------------------------------------------

    def get(self, type_name: str, rid: str, account: str, region: str) -> Resource | None:
        """The resource of that id, preferring the given account and region (ids are unique
        in AWS; a shared or peered resource may sit in another account's records)."""
        m = self.model
        return m.get(type_name, rid, account, region) or m.get(type_name, rid, None, region) or m.get(type_name, rid)

    def attachments_of_vpc(self, tgw: str, vpc: str) -> list[TransitGatewayAttachment]:
        if self._att_by_vpc is None:
            self._att_by_vpc, self._att_by_id = {}, {}
            for a in self.model.of("transit_gateway_attachment"):
                if isinstance(a, TransitGatewayAttachment):
                    self._att_by_id.setdefault(a.id, []).append(a)
                    if a.resource_type == "vpc" and a.state.lower() not in _GONE_ATTACHMENT_STATES:
                        self._att_by_vpc.setdefault((a.transit_gateway_id, a.resource_id), []).append(a)
        return self._att_by_vpc.get((tgw, vpc), [])

    def attachment(self, aid: str, tgw: str | None = None) -> TransitGatewayAttachment | None:
        """The attachment with that id (on `tgw` when given: a peering attachment is listed
        on both of its transit gateways)."""
        self.attachments_of_vpc("", "")
        assert self._att_by_id is not None
        for a in self._att_by_id.get(aid, []):
            if tgw is None or a.transit_gateway_id == tgw:
                return a
        return None

    def tgw_tables(self, tgw: str) -> list[TransitGatewayRouteTable]:
        if self._tgw_tables is None:
            self._tgw_tables, self._assoc = {}, {}
            for t in self.model.of("transit_gateway_route_table"):
                if isinstance(t, TransitGatewayRouteTable):
                    self._tgw_tables.setdefault(t.transit_gateway_id, []).append(t)
                    for aid in t.associated_attachment_ids or ():
                        self._assoc.setdefault(aid, t.id)
        return self._tgw_tables.get(tgw, [])

    def association(self, att: TransitGatewayAttachment) -> tuple[str | None, Reason | None]:
        """(route table id, reason): the transit gateway route table associated with an
        attachment, from the attachment or from the tables' association lists; (None,
        None) when the collected data shows it has none (it carries nothing)."""
        if att.associated_route_table_id:
            return att.associated_route_table_id, None
        tables = self.tgw_tables(att.transit_gateway_id)
        assert self._assoc is not None
        if att.id in self._assoc:
            return self._assoc[att.id], None
        if tables and all(t.associated_attachment_ids is not None for t in tables):
            return None, None
        return None, ("UNASSOCIATED_COMPONENT", f"{att.id}: transit gateway route table association unknown "
                      "(ec2:GetTransitGatewayRouteTableAssociations)")

    def instance_enis(self, inst: Instance) -> list[NetworkInterface]:
        if self._enis_by_instance is None:
            self._enis_by_instance = {}
            for e in self.model.of("network_interface"):
                if isinstance(e, NetworkInterface) and e.instance_id:
                    self._enis_by_instance.setdefault((e.account, e.region, e.instance_id), []).append(e)
        return self._enis_by_instance.get(_key(inst), [])

    def acl_of(self, subnet: Subnet) -> NetworkAcl | None:
        if self._acl_by_subnet is None:
            self._acl_by_subnet = {}
            for acl in self.model.of("network_acl"):
                if isinstance(acl, NetworkAcl):
                    for sid in acl.subnet_ids:
                        self._acl_by_subnet[(acl.account, acl.region, sid)] = acl
        return self._acl_by_subnet.get(_key(subnet))

    def group_rules(self, sg: SecurityGroup) -> list[SecurityGroupRule]:
        if self._rules_by_group is None:
            self._rules_by_group = {}
            for r in self.model.of("security_group_rule"):
                if isinstance(r, SecurityGroupRule):
                    self._rules_by_group.setdefault((r.account, r.region, r.group_id), []).append(r)
        return self._rules_by_group.get(_key(sg), [])

    def prefix_list_cidrs(self, pl_id: str, account: str, region: str) -> tuple[str, ...] | None:
        pl = self.get("prefix_list", pl_id, account, region)
        return pl.cidrs if isinstance(pl, PrefixList) else None

    def subnet_table(self, subnet_id: str, account: str, region: str) -> tuple[RouteTable | None, Reason | None]:
        """(the subnet's effective route table, (code, reason) when it cannot be told)."""
        sn = self.get("subnet", subnet_id, account, region)
        if not isinstance(sn, Subnet):
            return None, ("UNKNOWN_RESOURCE", f"{subnet_id}: subnet not in the model (ec2:DescribeSubnets)")
        if sn.route_table_id is None:
            return None, ("UNASSOCIATED_COMPONENT",
                          f"{subnet_id}: effective route table unknown (ec2:DescribeRouteTables)")
        rt = self.get("route_table", sn.route_table_id, sn.account, sn.region)
        if not isinstance(rt, RouteTable):
            return None, ("UNKNOWN_RESOURCE",
                          f"{sn.route_table_id}: route table not in the model (ec2:DescribeRouteTables)")
        return rt, None

    # -- compiled tables ---------------------------------------------------------------

    def vpc_entries(self, rt: RouteTable) -> tuple[tuple[RouteEntry, ...], tuple[Reason, ...]]:
        """The routes of a VPC route table as entries, and the reasons some could not be
        read (a prefix list whose entries are unknown, for a target that goes somewhere)."""
        k = ("rt", _key(rt))
        found = self.entries.get(k)
        if found is not None:
            return found
        entries: list[RouteEntry] = []
        reasons: list[Reason] = []
        for r in rt.routes:
            active = r.state != "blackhole"
            if r.destination_kind == "prefix_list":
                if r.destination_cidrs is None:
                    # Unknown entries only matter where the route leads somewhere: a local or
                    # gateway-endpoint route could only shadow other routes (fewer paths).
                    if active and not self._terminal(rt, r.target_kind, r.target_id):
                        reasons.append(("UNKNOWN_DESTINATION", f"{rt.id}: prefix list {r.destination} entries not collected "
                                       f"(ec2:GetManagedPrefixListEntries); its route to {r.target_id} "
                                       "is not followed" if r.destination else
                                       f"{rt.id}: a route to {r.target_id or '(no target)'} without a destination "
                                       "(ec2:DescribeRouteTables); not followed"))
                    continue
                for cidr in r.destination_cidrs:
                    n = parse_net(cidr)
                    if n is not None:
                        entries.append(RouteEntry(n, f"{r.destination} ({cidr})", r.target_kind, r.target_id, (),
                                              active, True, r.origin == _PROPAGATED_ORIGIN))
                continue
            n = parse_net(r.destination)
            if n is None:
                reasons.append(("UNKNOWN_DESTINATION", f"{rt.id}: route destination {r.destination!r} is not a CIDR"))
                continue
            entries.append(RouteEntry(n, r.destination, r.target_kind, r.target_id, (), active, False,
                                      r.origin == _PROPAGATED_ORIGIN))
        # The local route wins over a propagated route even a more specific one (AWS: the VPC
        # owns its CIDRs): such a route never carries traffic.
        local_nets = [e.net for e in entries if e.kind == "local"]
        entries = [e for e in entries if not (e.propagated and any(n.contains(e.net) for n in local_nets))]
        found = self.entries[k] = (tuple(entries), tuple(reasons))
        return found

    def _terminal(self, rt: RouteTable, kind: str, target: str) -> bool:
        if kind == "local":
            return True
        if kind == "vpce":
            ep = self.get("vpc_endpoint", target, rt.account, rt.region)
            return isinstance(ep, VpcEndpoint) and ep.endpoint_type.lower() in ("gateway", "interface")
        return False

    def tgw_entries(self, t: TransitGatewayRouteTable) -> tuple[tuple[RouteEntry, ...], tuple[Reason, ...]]:
        k = ("tgwrt", _key(t))
        found = self.entries.get(k)
        if found is not None:
            return found
        entries: list[RouteEntry] = []
        reasons: list[Reason] = []
        for r in t.routes or ():
            state = r.state.lower()
            if state == "deleted":
                continue
            # An active route carries its part to its attachments; a blackhole route drops it.
            # Any other state (pending, deleting, none reported) is not known to do either:
            # the route still takes its part of the traffic (longest-prefix match) and that
            # part is indeterminate, never "no path" (see `_expand_tgw_table`).
            kind = "attachment" if state in ("active", "blackhole") else _UNKNOWN_STATE
            cidrs = r.destination_cidrs
            is_pl = cidrs is None
            if cidrs is None and r.destination.startswith("pl-"):
                cidrs = self.prefix_list_cidrs(r.destination, t.account, t.region)
            if cidrs is None:
                reasons.append(("UNKNOWN_DESTINATION",
                                f"{t.id}: prefix list {r.destination} entries not collected "
                                "(ec2:GetManagedPrefixListEntries); its route is not followed"
                                if r.destination else
                                f"{t.id}: a route without a destination (ec2:SearchTransitGatewayRoutes); "
                                "not followed"))
                continue
            for cidr in cidrs:
                n = parse_net(cidr)
                if n is None:
                    reasons.append(("UNKNOWN_DESTINATION", f"{t.id}: route destination {cidr!r} is not a CIDR"))
                    continue
                text = f"{r.destination} ({cidr})" if is_pl else r.destination
                entries.append(RouteEntry(n, text, kind, r.state, r.attachment_ids, state != "blackhole", is_pl,
                                          r.route_type.lower() == "propagated"))
        found = self.entries[k] = (tuple(entries), tuple(reasons))
        return found

    def split(self, kind: str, k: Key, entries: tuple[RouteEntry, ...], traffic: Traffic) -> list[tuple[RouteEntry, Traffic]]:
        pk = (kind, k, traffic)
        found = self.parts.get(pk)
        if found is None:
            found = self.parts[pk] = partition(entries, traffic)
        return found

    # -- the search ----------------------------------------------------------------------

    def visit(self, kind: str, resource: Resource, traffic: Traffic, stack: dict[tuple[str, str, Net], int],
              expand: Callable[[], _Sub], hop: Hop, az: str = "") -> _Sub:
        """Explore one table node once per traffic class: loops cut on the path's own
        (table, destination prefix) pairs; results reused when no loop under them depends
        on how the node was reached."""
        loop_key = (kind, resource.id, traffic[0])
        depth = stack.get(loop_key)
        if depth is not None:
            return _Sub(loops=((hop,),), footprint=frozenset((loop_key,)), outer=depth)
        if len(stack) >= MAX_HOPS:
            return replace(_unknown("PATH_TOO_LONG", f"path longer than {MAX_HOPS} tables at {resource.id}; not followed",
                                    hop), outer=-1)
        state = (kind, _key(resource), traffic, az)
        found = self.memo.get(state)
        if found is not None and not any(k in found.footprint for k in stack):
            return found
        depth = len(stack)
        stack[loop_key] = depth
        try:
            sub = expand()
        finally:
            del stack[loop_key]
        footprint = sub.footprint | {loop_key}
        if sub.outer >= depth:
            result = _Sub(sub.paths, sub.unknown, sub.loops, footprint, _INF, sub.stops)
            self.memo[state] = result
            return result
        return _Sub(sub.paths, sub.unknown, sub.loops, footprint, sub.outer, sub.stops)

    def table(self, rt: RouteTable, traffic: Traffic, stack: dict[tuple[str, str, Net], int], az: str = "") -> _Sub:
        """Paths from a VPC route table for a traffic class (hop suffixes start at the table),
        sent from availability zone `az` ("" when unknown). The zone only matters to a table
        that routes to a transit gateway whose attachment of the table's VPC has no subnet in it
        (`tgw`): for every other table and zone the table is explored once (zone "")."""
        zone = self.zone_key(rt, az) if az else ""
        return self.visit("rt", rt, traffic, stack, lambda: self._expand_table(rt, traffic, stack, zone),
                          Hop("route_table", rt.id), zone)

    def _expand_table(self, rt: RouteTable, traffic: Traffic, stack: dict[tuple[str, str, Net], int],
                      az: str = "") -> _Sub:
        entries, reasons = self.vpc_entries(rt)
        subs: list[tuple[Hop, _Sub]] = []
        here = Hop("route_table", rt.id)
        local = [_unknown(code, text, here) for code, text in reasons]
        parts = self.split("rt", _key(rt), entries, traffic)
        for entry, part in parts:
            hop = Hop("route_table", rt.id, entry.text)
            if not entry.active:
                local.append(_stop("BAD_STATE_ROUTE", f"blackhole route to {entry.target or '(target gone)'}", hop))
                continue
            subs.append((hop, self.target(rt, entry, part, stack, az)))
        local += _route_choices(rt.id, entries, traffic, parts, tgw=False)
        return _combine(subs, local)

    def target(self, rt: RouteTable, e: RouteEntry, part: Traffic, stack: dict[tuple[str, str, Net], int],
               az: str = "") -> _Sub:
        """Where one route of a VPC table takes its part of the traffic."""
        family = FAMILY[part[0].version]
        kind, tid = e.kind, e.target
        where = f"{rt.id} {e.text} → {tid}"
        if kind == "local":
            return _Sub(paths=(("vpc", family, (Hop("vpc", rt.vpc_id),)),))
        if kind in ("igw", "eigw", "carrier"):
            # Traffic for private addresses only goes nowhere on the internet: it is an internet
            # path when the route is the source table's own (any destination, see `_finish`).
            where_to = "internet" if holds_internet(part[0]) else _private_internet(part[0])
            return _Sub(paths=((where_to, family, (Hop(kind, tid),)),))
        if kind in ("vgw", "lgw"):
            return _Sub(paths=(("on_premises", family, (Hop(kind, tid),)),))
        if kind == "nat":
            nat = self.get("nat_gateway", tid, rt.account, rt.region)
            if not isinstance(nat, NatGateway):
                return _unknown("UNKNOWN_RESOURCE", f"{tid}: NAT gateway not in the model (ec2:DescribeNatGateways); "
                                f"route {where} not followed", Hop("nat", tid))
            if nat.state.lower() in _GONE_NAT_STATES:
                return _stop("BAD_STATE", f"NAT gateway {nat.state.lower()}", Hop("nat", tid))
            onward = self.through(Hop("nat", tid), (nat.subnet_id,), rt, part, stack)
            if nat.connectivity == "private":
                onward = self._untranslated_dropped(onward, tid)
            return onward
        if kind == "instance":
            inst = self.get("instance", tid, rt.account, rt.region)
            if not isinstance(inst, Instance):
                return _unknown("UNKNOWN_RESOURCE", f"{tid}: instance not in the model (ec2:DescribeInstances); "
                                f"route {where} not followed", Hop("instance", tid))
            if inst.source_dest_check is True:
                return _stop("ENI_SOURCE_DEST_CHECK_RESTRICTION",
                             "source/destination check enabled: the instance forwards nothing", Hop("instance", tid))
            subnets, lacking = self.instance_subnets(inst)
            return _with_unknown(self.through(Hop("instance", tid), subnets, rt, part, stack), lacking,
                                 Hop("instance", tid))
        if kind == "eni":
            eni = self.get("network_interface", tid, rt.account, rt.region)
            if not isinstance(eni, NetworkInterface):
                return _unknown("UNKNOWN_RESOURCE", f"{tid}: network interface not in the model "
                                f"(ec2:DescribeNetworkInterfaces); route {where} not followed", Hop("eni", tid))
            if eni.source_dest_check is True and eni.interface_type in ("", "interface"):
                return _stop("ENI_SOURCE_DEST_CHECK_RESTRICTION",
                             "source/destination check enabled: the interface forwards nothing", Hop("eni", tid))
            subnets = [eni.subnet_id]
            missing: list[Reason] = []
            if eni.instance_id:  # an appliance forwards out of any of its interfaces
                owner = self.get("instance", eni.instance_id, eni.account, eni.region)
                if isinstance(owner, Instance):
                    more, missing = self.instance_subnets(owner)
                    subnets += more
                else:
                    missing = [("UNKNOWN_RESOURCE", f"{eni.instance_id}: instance of {tid} not in the model "
                                "(ec2:DescribeInstances); its other interfaces not followed")]
            return _with_unknown(self.through(Hop("eni", tid), subnets, rt, part, stack), missing, Hop("eni", tid))
        if kind in ("gwlbe", "vpce"):
            ep = self.get("vpc_endpoint", tid, rt.account, rt.region)
            if not isinstance(ep, VpcEndpoint):
                return _unknown("UNKNOWN_RESOURCE", f"{tid}: VPC endpoint not in the model (ec2:DescribeVpcEndpoints); "
                                f"route {where} not followed", Hop("vpce", tid))
            ep_type = ep.endpoint_type.lower()
            if ep_type in _SERVICE_ENDPOINTS:
                # a gateway or interface endpoint: the AWS service network
                return _stop("ENDS_AT_SERVICE_ENDPOINT", f"{ep.endpoint_type} endpoint for {ep.service_name or 'a service'}",
                             Hop("vpce", tid))
            if ep_type != "gatewayloadbalancer":
                return _unknown("UNSUPPORTED_COMPONENT", f"{tid}: VPC endpoint type {ep.endpoint_type or '(none)'!r} "
                                f"not known (ec2:DescribeVpcEndpoints); route {where} not followed", Hop("vpce", tid))
            return self.through(Hop("gwlbe", tid), ep.subnet_ids, rt, part, stack)
        if kind == "tgw":
            return self.tgw(rt, tid, part, stack, az)
        if kind == "pcx":
            return self.peering(rt, tid, part)
        names = {"core_network": "Cloud WAN core network", "odb": "Oracle Database@AWS network",
                 "route_server": "route server next hop"}
        return _unknown("UNSUPPORTED_COMPONENT", f"route {where}: {names.get(kind, 'target of kind ' + repr(kind))} "
                        "is not analysed")

    def _untranslated_dropped(self, sub: _Sub, nat_id: str) -> _Sub:
        """After a private NAT gateway the traffic carries the NAT's private address: an
        internet gateway drops it (AWS: "the internet gateway drops the traffic"), unless a
        public NAT gateway, a NAT instance or an appliance translates it again on the way.
        IPv6 is not translated by NAT gateways and is kept as it is."""
        def translated_again(hops: Suffix) -> bool:
            for hop in hops[1:]:
                if hop.kind in ("instance", "eni"):
                    return True
                if hop.kind == "nat":
                    nat = self.model.get("nat_gateway", hop.id)
                    if not isinstance(nat, NatGateway) or nat.connectivity != "private":
                        return True
            return False
        dropped = [p for p in sub.paths
                   if p[0] == "internet" and p[1] == "ipv4" and p[2] and p[2][-1].kind == "igw"
                   and not translated_again(p[2])]
        if not dropped:
            return sub
        gone = set(dropped)
        stops = tuple((p[2], "IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS",
                       f"private NAT gateway {nat_id} translated the traffic to its private address; "
                       f"{p[2][-1].id} drops it", True) for p in dropped)
        return replace(sub, paths=tuple(p for p in sub.paths if p not in gone), stops=sub.stops + stops)

    def instance_subnets(self, inst: Instance) -> tuple[list[str], list[Reason]]:
        """The subnets an instance forwards out of (its own and every interface's), and the
        reasons some cannot be told (an interface it lists that is not in the model)."""
        enis = self.instance_enis(inst)
        known = {e.id for e in enis}
        missing = [("UNKNOWN_RESOURCE", f"{eid}: network interface of {inst.id} not in the model "
                    "(ec2:DescribeNetworkInterfaces); not followed") for eid in inst.network_interface_ids
                   if eid not in known]
        return [inst.subnet_id] + [e.subnet_id for e in enis], missing

    def through(self, hop: Hop, subnet_ids: Iterable[str], rt: RouteTable, part: Traffic,
                stack: dict[tuple[str, str, Net], int]) -> _Sub:
        """Continue through the route tables of a gateway's, instance's or endpoint's subnets."""
        tables: dict[tuple[str, str], tuple[RouteTable, str]] = {}
        local: list[_Sub] = []
        for sid in dict.fromkeys(s for s in subnet_ids if s):
            nxt, reason = self.subnet_table(sid, rt.account, rt.region)
            if nxt is None:
                code, text = reason or ("UNKNOWN_RESOURCE", sid)
                local.append(_unknown(code, f"{text}; {hop.id} not followed", hop))
            else:
                zone = self.zone(sid, rt.account, rt.region)
                tables.setdefault((nxt.id, zone), (nxt, zone))
        if not tables and not local:
            local.append(_unknown("UNASSOCIATED_COMPONENT", f"{hop.id}: its subnet is unknown; not followed", hop))
        subs = [(hop, self.table(t, part, stack, zone)) for t, zone in tables.values()]
        return _combine(subs, local)

    def zone_key(self, rt: RouteTable, az: str) -> str:
        """`az` when some transit gateway the table routes to would drop traffic from that zone
        (its attachment of the table's VPC has no subnet there), else "": the table's paths do
        not depend on the zone."""
        k = (_key(rt), az)
        found = self.zone_keys.get(k)
        if found is None:
            found = ""
            for tgw_id in {r.target_id for r in rt.routes if r.target_kind == "tgw"}:
                for att in self.attachments_of_vpc(tgw_id, rt.vpc_id):
                    zones = self.attachment_zones(att)
                    if zones is not None and az not in zones:
                        found = az
            self.zone_keys[k] = found
        return found

    def zone(self, subnet_id: str, account: str, region: str) -> str:
        """The subnet's availability zone; "" when not reported or known only after deploy."""
        sn = self.get("subnet", subnet_id, account, region)
        if not isinstance(sn, Subnet) or sn.unknown_reason("availability_zone") is not None:
            return ""
        return sn.availability_zone

    def tgw(self, rt: RouteTable, tgw_id: str, part: Traffic, stack: dict[tuple[str, str, Net], int],
            az: str = "") -> _Sub:
        """Into a transit gateway from the VPC of `rt`, sent from zone `az`: through the source
        attachment's associated route table. AWS forwards traffic to a transit gateway only from
        a zone where the VPC attachment has a subnet; when the zones are known and it has none
        in `az`, the traffic stops (TGW_ROUTE_AZ_RESTRICTION)."""
        hop = Hop("tgw", tgw_id)
        sources = self.attachments_of_vpc(tgw_id, rt.vpc_id)
        if not sources:
            return _unknown("UNKNOWN_RESOURCE", f"{tgw_id}: no attachment of {rt.vpc_id} to the transit gateway in the "
                            "model (ec2:DescribeTransitGatewayAttachments)", hop)
        subs: list[tuple[Hop, _Sub]] = []
        for att in sources:
            zones = self.attachment_zones(att) if az else None
            if zones is not None and az not in zones:
                subs.append((hop, _stop("TGW_ROUTE_AZ_RESTRICTION", f"{att.id} has no subnet in {az} (its subnets are "
                                        f"in {', '.join(sorted(zones))}): traffic sent from {az} is dropped")))
            else:
                subs.append((hop, self.enter_tgw(att, tgw_id, part, stack)))
        return _combine(subs)

    def attachment_zones(self, att: TransitGatewayAttachment) -> set[str] | None:
        """The zones of a VPC attachment's subnets; None when any is not known."""
        if not att.subnet_ids:
            return None
        zones = {self.zone(sid, att.account, att.region) for sid in att.subnet_ids}
        return None if "" in zones else zones

    def enter_tgw(self, att: TransitGatewayAttachment, tgw_id: str, part: Traffic,
                  stack: dict[tuple[str, str, Net], int]) -> _Sub:
        """Traffic arriving on `tgw_id` through attachment `att`: the association's table."""
        table_id, reason = self.association(att)
        if table_id is None:
            if reason is not None:
                return _unknown(*reason)
            return _stop("TGW_ATTACH_MISSING_TGW_RTB_ASSOCIATION",
                         f"{att.id} is associated with no transit gateway route table of {tgw_id}")
        t = self.get("transit_gateway_route_table", table_id, att.account, att.region)
        if not isinstance(t, TransitGatewayRouteTable):
            return _unknown("UNKNOWN_RESOURCE", f"{table_id}: transit gateway route table not in the model "
                            "(ec2:DescribeTransitGatewayRouteTables)", Hop("tgw_route_table", table_id))
        if t.routes is None:
            return _unknown("TGW_RTB_ROUTES_ARE_UNKNOWN", f"{t.id}: routes not collected "
                            "(ec2:SearchTransitGatewayRoutes)", Hop("tgw_route_table", t.id))
        return self.visit("tgwrt", t, part, stack, lambda: self._expand_tgw_table(t, part, stack),
                          Hop("tgw_route_table", t.id))

    def _expand_tgw_table(self, t: TransitGatewayRouteTable, traffic: Traffic,
                          stack: dict[tuple[str, str, Net], int]) -> _Sub:
        entries, reasons = self.tgw_entries(t)
        subs: list[tuple[Hop, _Sub]] = []
        here = Hop("tgw_route_table", t.id)
        local = [_unknown(code, text, here) for code, text in reasons]
        parts = self.split("tgwrt", _key(t), entries, traffic)
        for entry, part in parts:
            hop = Hop("tgw_route_table", t.id, entry.text)
            if not entry.active:
                local.append(_stop("TGW_RTB_BAD_STATE_ROUTE", "blackhole route", hop))
                continue
            if entry.kind == _UNKNOWN_STATE:
                local.append(_unknown("ROUTE_STATE_UNKNOWN", f"{t.id} {entry.text}: route state "
                                      f"{entry.target or '(none)'!r}, not known to carry or drop traffic "
                                      "(ec2:SearchTransitGatewayRoutes); not followed", hop))
                continue
            if not entry.targets:
                # AWS lists the attachments of every active route; none listed means the data
                # is missing, not that the traffic goes nowhere (that is a blackhole route).
                local.append(_unknown("ROUTE_STATE_UNKNOWN", f"{t.id} {entry.text}: active route with no attachment "
                                      "reported (ec2:SearchTransitGatewayRoutes); not followed", hop))
                continue
            for aid in entry.targets:
                subs.append((hop, self.attachment_target(t, aid, part, stack)))
        local += _route_choices(t.id, entries, traffic, parts, tgw=True)
        return _combine(subs, local)

    def attachment_target(self, t: TransitGatewayRouteTable, aid: str, part: Traffic,
                          stack: dict[tuple[str, str, Net], int]) -> _Sub:
        att = self.attachment(aid, t.transit_gateway_id) or self.attachment(aid)
        if att is None:
            return _unknown("UNKNOWN_RESOURCE", f"{aid}: transit gateway attachment not in the model "
                            "(ec2:DescribeTransitGatewayAttachments)", Hop("attachment", aid))
        family = FAMILY[part[0].version]
        hop = Hop("attachment", att.id, label=att.resource_id)
        rtype = att.resource_type.lower()
        if att.state.lower() in _GONE_ATTACHMENT_STATES:
            return _stop("TGW_BAD_STATE_VPN" if rtype == "vpn" else "BAD_STATE_ATTACHMENT",
                         f"attachment {att.state.lower()}", hop)
        if rtype in ("vpn", "direct-connect-gateway"):
            return _Sub(paths=(("on_premises", family, (hop,)),))
        if rtype == "vpc":
            if att.subnet_ids is None:
                return _unknown("UNASSOCIATED_COMPONENT", f"{att.id}: attachment subnets unknown "
                                "(ec2:DescribeTransitGatewayVpcAttachments)", hop)
            if not att.subnet_ids:
                # AWS requires at least one subnet per VPC attachment: none listed is missing data.
                return _unknown("UNASSOCIATED_COMPONENT", f"{att.id}: no attachment subnets reported "
                                "(ec2:DescribeTransitGatewayVpcAttachments); not followed", hop)
            tables: dict[tuple[str, str], tuple[RouteTable, str]] = {}
            local: list[_Sub] = []
            for sid in att.subnet_ids:
                rt, reason = self.subnet_table(sid, att.account, att.region)
                if rt is None:
                    code, text = reason or ("UNKNOWN_RESOURCE", sid)
                    local.append(_unknown(code, f"{text}; {att.id} to {att.resource_id} not followed", hop))
                else:
                    zone = self.zone(sid, att.account, att.region)
                    tables.setdefault((rt.id, zone), (rt, zone))
            return _combine([(hop, self.table(rt, part, stack, zone)) for rt, zone in tables.values()], local)
        if rtype == "peering":
            peer = self.attachment(att.id, att.resource_id)
            if peer is None:
                return _unknown("NO_POSSIBLE_DESTINATION", f"{att.id}: peering attachment to {att.resource_id}, whose "
                                "side of it is not in the model; not followed", hop)
            return _combine([(hop, _prefixed(Hop("tgw", peer.transit_gateway_id),
                                             self.enter_tgw(peer, peer.transit_gateway_id, part, stack)))])
        return _unknown("UNSUPPORTED_COMPONENT", f"{att.id}: {att.resource_type or 'unknown'} attachment is not "
                        "analysed", hop)

    def peering(self, rt: RouteTable, pcx_id: str, part: Traffic) -> _Sub:
        """A peering reaches the peer VPC's CIDRs only, and goes no further."""
        here = Hop("pcx", pcx_id)
        pcx = self.get("vpc_peering", pcx_id, rt.account, rt.region)
        if not isinstance(pcx, VpcPeering):
            return _unknown("UNKNOWN_RESOURCE", f"{pcx_id}: peering connection not in the model "
                            "(ec2:DescribeVpcPeeringConnections)", here)
        status = pcx.status.lower()
        if status in _IDLE_PEERING:
            return _stop("BAD_STATE", f"peering connection {status}", here)
        if status != "active":
            return _unknown("ROUTE_STATE_UNKNOWN", f"{pcx_id}: peering connection status {pcx.status or '(none)'!r} "
                            "not known (ec2:DescribeVpcPeeringConnections); not followed", here)
        sides = [s for s in (pcx.requester, pcx.accepter) if s is not None]
        peers = [s for s in sides if s.vpc_id != rt.vpc_id]
        if len(sides) != 2 or len(peers) != 1:
            return _unknown("UNKNOWN_DESTINATION", f"{pcx_id}: peering sides unknown or not of {rt.vpc_id}", here)
        peer = peers[0]
        net, excluded = part
        cidrs = peer.cidrs if net.version == 4 else peer.ipv6_cidrs
        if net.version == 4 and not cidrs:
            return _unknown("UNKNOWN_DESTINATION", f"{pcx_id}: CIDRs of the peer VPC {peer.vpc_id} not reported", here)
        paths: list[_RawPath] = []
        inside: list[Net] = []
        whole = False
        for cidr in cidrs:
            c = parse_net(cidr)
            if c is None or c.version != net.version:
                continue
            if c.contains(net):
                reached = net
                whole = True
            elif net.contains(c):
                reached = c
                inside.append(c)
            else:
                continue
            if covered(reached, excluded):
                continue
            paths.append(("vpc", FAMILY[net.version], (Hop("pcx", pcx_id, reached.text), Hop("vpc", peer.vpc_id))))
        sub = _Sub(paths=tuple(paths))
        if not whole and not covered(net, excluded | frozenset(inside)):
            outside = f"{_traffic_text(part)}" + (f" outside {_nets_text(inside)}" if inside else "")
            sub = _combine([], [sub, _stop("PCX_REQUIRES_ADDRESS_IN_VPC_CIDR",
                                               f"traffic for {outside} is not for the peer {peer.vpc_id}'s CIDRs "
                                               f"({', '.join(cidrs) or 'none'})", here)])
        return sub

    # -- sources -------------------------------------------------------------------------

    def from_table(self, rt: RouteTable, source_vpc: str, az: str = "") -> tuple[tuple[_RawPath, ...], tuple[str, ...],
                                                                    tuple[Suffix, ...], tuple[_RawStop, ...]]:
        """Every path from a subnet's effective table (sorted, the source VPC's own local
        delivery left out: it is a stop), the reasons, the loops and the stops, as hop
        suffixes from the table."""
        az = self.zone_key(rt, az) if az else ""
        k = (_key(rt), source_vpc, az)
        found = self.starts.get(k)
        if found is None:
            subs = [self.table(rt, (ALL[v], frozenset()), {}, az) for v in (4, 6)]
            found = self.starts[k] = _finish(subs, source_vpc, keep_own=False)
        return found

    def _reachability(self, start: Hop, found: tuple[tuple[_RawPath, ...], tuple[str, ...], tuple[Suffix, ...],
                                                        tuple[_RawStop, ...]]) -> Reachability:
        paths, unknown, loops, stops = found
        loop_texts = tuple(_text((start, *lp)) + " (loop)" for lp in loops)
        explained = {Stop(_text((start, *h)), code, detail, certain): None for h, code, detail, certain in stops}
        for text in loop_texts:
            explained.setdefault(Stop(text, "ROUTING_LOOP", "back at a table already passed for the same "
                                      "destination"), None)
        return Reachability(tuple(Path(d, f, (start, *hops)) for d, f, hops in paths), unknown, loop_texts,
                            tuple(sorted(explained, key=lambda x: (x.hops, x.code, x.detail))))

    def _no_table(self, sn: Subnet) -> Reachability | None:
        if sn.route_table_id is None:
            reason = f"{sn.id}: effective route table unknown (ec2:DescribeRouteTables)"
            return Reachability((), (reason,), (), (Stop(sn.id, "UNASSOCIATED_COMPONENT", reason, False),))
        rt = self.get("route_table", sn.route_table_id, sn.account, sn.region)
        if not isinstance(rt, RouteTable):
            reason = f"{sn.route_table_id}: route table not in the model (ec2:DescribeRouteTables)"
            return Reachability((), (reason,), (), (Stop(sn.id, "UNKNOWN_RESOURCE", reason, False),))
        return None

    def subnet(self, sn: Subnet) -> Reachability:
        k = _key(sn)
        found = self.subnets.get(k)
        if found is not None:
            return found
        found = self._no_table(sn)
        if found is None:
            rt = self.get("route_table", sn.route_table_id or "", sn.account, sn.region)
            assert isinstance(rt, RouteTable)
            found = self._reachability(Hop("subnet", sn.id),
                                       self.from_table(rt, sn.vpc_id, self.zone(sn.id, sn.account, sn.region)))
        self.subnets[k] = found
        return found

    def trace(self, sn: Subnet, net: Net) -> Reachability:
        """Where traffic from `sn` for one destination prefix goes: like `subnet`, but for
        that prefix only and with delivery inside the source's own VPC kept as a `vpc` path."""
        found = self._no_table(sn)
        if found is not None:
            return found
        rt = self.get("route_table", sn.route_table_id or "", sn.account, sn.region)
        assert isinstance(rt, RouteTable)
        sub = self.table(rt, (net, frozenset()), {}, self.zone(sn.id, sn.account, sn.region))
        return self._reachability(Hop("subnet", sn.id), _finish([sub], sn.vpc_id, keep_own=True))

    def interface(self, eni: NetworkInterface) -> Reachability:
        k = _key(eni)
        found = self.interfaces.get(k)
        if found is not None:
            return found
        sn = self.get("subnet", eni.subnet_id, eni.account, eni.region)
        start = Hop("eni", eni.id)
        if not isinstance(sn, Subnet):
            reason = f"{eni.subnet_id or '(none)'}: subnet of {eni.id} not in the model (ec2:DescribeSubnets)"
            found = Reachability((), (reason,), (), (Stop(eni.id, "UNKNOWN_RESOURCE", reason, False),))
        else:
            of_subnet = self.subnet(sn)
            found = Reachability(tuple(Path(p.destination, p.family, (start, *p.hops)) for p in of_subnet.paths),
                                 of_subnet.indeterminate, tuple(f"{eni.id} → {lp}" for lp in of_subnet.loops),
                                 tuple(replace(st, hops=f"{eni.id} → {st.hops}") for st in of_subnet.stops))
        self.interfaces[k] = found
        return found


_RFC1918 = tuple(n for n in map(parse_net, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")) if n is not None)
_RFC6598 = parse_net("100.64.0.0/10")


def _private_internet(net: Net) -> str:
    """The destination of a raw path that reaches an internet gateway with traffic for no
    internet address: kept only when the route is the source's own (`_finish`); otherwise the
    gateway drops it, for the reason encoded here."""
    if any(b.contains(net) for b in _RFC1918):
        code = "IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS"
    elif _RFC6598 is not None and _RFC6598.contains(net):
        code = "IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS"
    else:
        code = "IGW_DESTINATION_NOT_ROUTABLE"
    return f"{_PRIVATE_INTERNET}|{code}|{net.text}"


def _finish(subs: list[_Sub], source_vpc: str, *, keep_own: bool) -> tuple[
        tuple[_RawPath, ...], tuple[str, ...], tuple[Suffix, ...], tuple[_RawStop, ...]]:
    """The paths from a source's table (sorted), its reasons, loops and stops: delivery in the
    source's own VPC is a stop unless `keep_own` (a trace); private traffic at an internet
    gateway is a path only on the source's own route to it (the catalogue's strict reading of
    a route to an internet gateway), and never in a trace, which follows one packet as AWS
    does: the gateway drops it."""
    seen: dict[_RawPath, None] = {}
    stops: dict[_RawStop, None] = {}
    own_vpc = Hop("vpc", source_vpc)
    for sub in subs:
        for p in sub.paths:
            if p[0] == "vpc" and p[2][-1] == own_vpc and not keep_own:
                stops.setdefault((p[2][:-1], "VPC_LOCAL_ROUTE_CIDR_RESTRICTION",
                                  f"delivered inside {source_vpc}, the source's own VPC", True), None)
                continue
            if p[0].startswith(_PRIVATE_INTERNET):
                if len(p[2]) != 2 or keep_own:   # after other hops, or a packet traced: dropped
                    _, code, net = p[0].split("|")
                    stops.setdefault((p[2], code, f"traffic for {net} holds no internet address", True), None)
                    continue
                p = ("internet", p[1], p[2])   # the subnet's own route to the gateway
            seen.setdefault(p, None)
        for st in sub.stops:
            stops.setdefault(st, None)
    paths = sorted(seen, key=lambda p: (_DEST_RANK[p[0]], p[1], _text(p[2])))
    unknown = tuple(sorted({u for s in subs for u in s.unknown}))
    loops = tuple(sorted({lp for s in subs for lp in s.loops}, key=_text))
    return tuple(paths), unknown, loops, tuple(stops)


def _text(hops: Iterable[Hop]) -> str:
    return " → ".join(h.text for h in hops)


def _with_unknown(sub: _Sub, unknown: list[Reason], *hops: Hop) -> _Sub:
    """`sub` with more reasons (at the node the hops lead to)."""
    return _combine([], [sub, *(_unknown(code, text, *hops) for code, text in unknown)]) if unknown else sub


def _prefixed(hop: Hop, sub: _Sub) -> _Sub:
    return _combine([(hop, sub)])


def _combine(subs: list[tuple[Hop, _Sub]], local: Iterable[_Sub] = ()) -> _Sub:
    """The children's findings behind their hops, and this node's own (`local`: not behind a hop)."""
    local = tuple(local)
    if not subs and not local:
        return _EMPTY
    if not subs and len(local) == 1:
        return local[0]
    unknown: list[str] = []
    paths: list[_RawPath] = []
    loops: list[Suffix] = []
    stops: list[_RawStop] = []
    footprint: frozenset[tuple[str, str, Net]] = frozenset()
    outer = _INF
    for hop, sub in subs:
        paths.extend((d, f, (hop, *h)) for d, f, h in sub.paths)
        loops.extend((hop, *lp) for lp in sub.loops)
        stops.extend(((hop, *h), code, detail, certain) for h, code, detail, certain in sub.stops)
        unknown.extend(sub.unknown)
        if sub.footprint:
            footprint = footprint | sub.footprint if footprint else sub.footprint
        outer = min(outer, sub.outer)
    for sub in local:
        paths.extend(sub.paths)
        loops.extend(sub.loops)
        stops.extend(sub.stops)
        unknown.extend(sub.unknown)
        if sub.footprint:
            footprint = footprint | sub.footprint if footprint else sub.footprint
        outer = min(outer, sub.outer)
    return _Sub(tuple(paths), tuple(dict.fromkeys(unknown)), tuple(loops), footprint, outer, tuple(stops))


def _nets_text(nets: Iterable[Net], most: int = 4) -> str:
    texts = [n.text for n in sorted(set(nets), key=lambda n: (n.version, n.start, -n.end))]
    return ", ".join(texts[:most]) + (f" and {len(texts) - most} more" if len(texts) > most else "")


def _route_choices(table_id: str, entries: tuple[RouteEntry, ...], traffic: Traffic,
                   parts: list[tuple[RouteEntry, Traffic]], *, tgw: bool) -> list[_Sub]:
    """Why the routes of a table that carry none of a traffic class carry none (a more specific
    route, a route of higher priority, a destination the class does not reach), and the part
    of the class no route matches: each a certain stop at the table."""
    net, excluded = traffic
    chosen = {id(e) for e, _ in parts}
    out: list[_Sub] = []
    inside: list[Net] = []
    whole = False
    prefix = "TGW_RTB_" if tgw else ""
    kind = "tgw_route_table" if tgw else "route_table"
    for e in entries:
        n = e.net
        if n.version != net.version:
            continue
        covers, within = n.contains(net), net.contains(n)
        if covers:
            whole = True
        elif within:
            inside.append(n)
        if id(e) in chosen or not _may_leave(e, tgw) or not holds_internet(net):
            continue
        hop = Hop(kind, table_id, e.text)
        to = f"route to {e.target}" if not tgw else "route"
        if not (covers or within) or (within and covered(n, excluded)):
            out.append(_stop(prefix + "CANNOT_ROUTE", f"the traffic reaching {table_id} is for {_traffic_text(traffic)}; "
                             f"this {to} matches none of it", hop))
        elif any(f is not e and f.net == n and priority(f) > priority(e) for f in entries):
            winner = max((f for f in entries if f.net == n), key=priority)
            why = ("a static route" if e.propagated and not winner.propagated else
                   "a CIDR route" if e.prefix_list and not winner.prefix_list else "another route")
            out.append(_stop(prefix + "HIGHER_PRIORITY_ROUTE", f"{why} for {n.text} takes priority over this "
                             f"{'propagated ' if e.propagated else 'prefix-list ' if e.prefix_list else ''}{to}", hop))
        else:
            out.append(_stop(prefix + "MORE_SPECIFIC_ROUTE", f"more specific routes take all of what this {to} "
                             "would carry", hop))
    if not whole and not covered(net, excluded | frozenset(inside)):
        detail = f"no route matches {_traffic_text(traffic)}"
        if inside:
            detail += f" outside {_nets_text(inside)}"
        out.append(_stop("NO_ROUTE_TO_DESTINATION", detail, Hop(kind, table_id)))
    return out


# Route targets that can lead traffic to the internet (directly or by forwarding it on): a
# route to one of them that carries none of the traffic is explained, when the traffic holds
# internet addresses; routes to the AWS service network, to other VPCs and to on-premises
# networks are not, nor any route for traffic bound for private addresses only (they explain
# nothing about a way out, and a full-mesh transit gateway would repeat them for every class).
_LEAVING = frozenset({"igw", "eigw", "carrier", "nat", "instance", "eni", "gwlbe", "tgw"})


def _may_leave(e: RouteEntry, tgw: bool) -> bool:
    """Whether a route that carries none of a class is worth explaining: in a VPC table one to
    a target that can lead out; in a transit gateway table one whose destination holds
    internet addresses (the way to a central egress VPC)."""
    if tgw:
        return holds_internet(e.net)
    # a route to an internet gateway counts whatever its destination (the strict reading);
    # any other route for private destinations only can reach no internet address
    return e.kind in ("igw", "eigw", "carrier") or (e.kind in _LEAVING and holds_internet(e.net))


def _traffic_text(traffic: Traffic) -> str:
    net, excluded = traffic
    return net.text + (f" (less {_nets_text(excluded, 3)})" if excluded else "")


# -- per model -------------------------------------------------------------------------

_ANALYZER = "auditor.analyze.reachability"   # Model.memo key of the model's `_Analyzer`


def _analyzer(model: Model) -> _Analyzer:
    """The analysis of `model`, kept by the model (`Model.memo`): it dies with it, and two
    models never share one."""
    return model.memo(_ANALYZER, lambda: _Analyzer(model))


def subnet_reachability(model: Model, subnet: Subnet) -> Reachability:
    """Every path out of `subnet` through its effective route table (cached per model)."""
    return _analyzer(model).subnet(subnet)


def subnet_trace(model: Model, subnet: Subnet, address: str) -> Reachability:
    """Where traffic from `subnet` to one destination address (or prefix) goes, as AWS
    forwards a packet: its paths, including delivery inside the subnet's own VPC (a `vpc`
    path), and its stops. Unlike `subnet_reachability`, a private destination that the
    subnet's own route sends to an internet gateway is a stop (the gateway drops it), not an
    internet path. Raises ValueError when `address` is not an address or CIDR."""
    net = parse_net(address)
    if net is None:
        raise ValueError(f"not an address or CIDR: {address!r}")
    return _analyzer(model).trace(subnet, net)


def interface_reachability(model: Model, eni: NetworkInterface) -> Reachability:
    """Every path out of a network interface: its subnet's paths, each starting at the
    interface (cached per model)."""
    return _analyzer(model).interface(eni)


# -- ingress ---------------------------------------------------------------------------

@dataclass
class _Ingress:
    admitted: Ports = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    explain: list[str] = field(default_factory=list)

    def stop(self, where: str, code: str, detail: str) -> None:
        self.explain.append(Stop(where, code, detail).text)

    def unknown(self, where: str, reason: str) -> None:
        self.reasons.append(reason)
        code = "UNKNOWN_RESOURCE" if "not in the model" in reason else "NOT_ANALYSED_INGRESS"
        self.explain.append(Stop(where, code, reason, False).text + " [unknown]")


def _sg_admits(an: _Analyzer, eni: NetworkInterface, version: int, out: _Ingress) -> Ports:
    """What the interface's security groups admit from internet sources of one family."""
    admitted: Ports = {}
    for gid in eni.security_group_ids:
        sg = an.get("security_group", gid, eni.account, eni.region)
        if not isinstance(sg, SecurityGroup):
            out.unknown(eni.id, f"{gid}: security group of {eni.id} not in the model (ec2:DescribeSecurityGroups)")
            continue
        inbound = [r for r in an.group_rules(sg) if not r.is_egress]
        if not inbound:
            out.stop(gid, "SG_HAS_NO_RULES", "no inbound rule")
        for rule in inbound:
            if rule.prefix_list_id:
                cidrs = an.prefix_list_cidrs(rule.prefix_list_id, rule.account, rule.region)
                if cidrs is None:
                    out.unknown(f"{gid} {rule.id}", f"{rule.id}: prefix list {rule.prefix_list_id} entries not collected "
                                "(ec2:GetManagedPrefixListEntries)")
                    continue
            else:
                cidr = rule.cidr_ipv4 if version == 4 else rule.cidr_ipv6
                cidrs = (cidr,) if cidr else ()
            public = False
            for c in cidrs:
                n = parse_net(c)
                if n is None or n.version != version:
                    continue
                if holds_internet(n):
                    public = True
                elif any(b.contains(n) for b in _RFC1918):
                    out.stop(f"{gid} {rule.id}", "IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS", f"source {c}")
                elif _RFC6598 is not None and _RFC6598.contains(n):
                    out.stop(f"{gid} {rule.id}", "IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS", f"source {c}")
            if not public:
                continue
            t = matches(rule.protocol, rule.from_port, rule.to_port)
            if t is None:
                out.unknown(f"{gid} {rule.id}", f"{rule.id}: port range {rule.from_port}-{rule.to_port} not understood")
                continue
            admitted = union(admitted, t)
    return admitted


def _igw_route(an: _Analyzer, rt: RouteTable, version: int) -> bool | None:
    """Whether a route table has an active route of that family to an internet gateway;
    None when it has none for certain but a route's target could not be told (a gateway id
    of no known kind may be an internet gateway)."""
    unsure = False
    for r in rt.routes:
        if r.state == "blackhole":
            continue
        if r.target_kind == "unknown":
            unsure = True
            continue
        if r.target_kind != "igw":
            continue
        if r.destination_kind == "prefix_list":
            pl = an.get("prefix_list", r.destination, rt.account, rt.region)
            family = pl.address_family.lower() if isinstance(pl, PrefixList) else ""
            if family in ("", f"ipv{version}"):
                return True   # an unknown family counts for both
        elif r.destination_kind == f"ipv{version}":
            return True
    return None if unsure else False


_NAT_INTERFACE = "Interface for NAT Gateway "
_Answer = tuple[tuple[str, ...] | None, tuple[str, ...], tuple[str, ...]]


def _ingress(an: _Analyzer, eni: NetworkInterface) -> _Answer:
    out = _Ingress()
    families = [v for v, has in ((4, bool(eni.public_ips)), (6, bool(eni.ipv6_addresses))) if has]
    if not families:
        out.stop(eni.id, "IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS", "no public IPv4 address and no IPv6 address")
        return (), (), tuple(out.explain)
    sn = an.get("subnet", eni.subnet_id, eni.account, eni.region)
    if not isinstance(sn, Subnet):
        out.unknown(eni.id, f"{eni.subnet_id or '(none)'}: subnet of {eni.id} not in the model (ec2:DescribeSubnets)")
        return None, tuple(out.reasons), tuple(out.explain)
    rt, reason = an.subnet_table(sn.id, sn.account, sn.region)
    if rt is None:
        out.unknown(f"{eni.id} → {sn.id}", reason[1] if reason else f"{sn.id}: effective route table unknown")
        return None, tuple(out.reasons), tuple(out.explain)
    routed = {v: _igw_route(an, rt, v) for v in families}
    exposed = [v for v in families if routed[v]]
    for v in families:
        if routed[v] is False:
            out.stop(f"{eni.id} → {rt.id}", "NO_ROUTE_TO_DESTINATION",
                     f"no IPv{v} route to an internet gateway: replies to the internet have no way out")
    if None in routed.values():
        out.unknown(f"{eni.id} → {rt.id}", f"{rt.id}: a route's target is of no known kind; whether it is an internet gateway "
                    "is not known")
    if not exposed:
        return ((None, tuple(out.reasons), tuple(out.explain)) if out.reasons else ((), (), tuple(out.explain)))
    if not eni.security_group_ids:
        if eni.interface_type == "nat_gateway" or eni.description.startswith(_NAT_INTERFACE):
            out.stop(eni.id, "NAT_GATEWAY_NO_INBOUND", "a NAT gateway accepts no connection from the internet")
            return (), (), tuple(out.explain)
        out.unknown(eni.id, f"{eni.id}: no security groups; what it admits depends on the service behind it "
                    f"({eni.interface_type or 'unknown type'})")
        return None, tuple(out.reasons), tuple(out.explain)
    acl = an.acl_of(sn)
    if acl is None:
        out.unknown(f"{eni.id} → {sn.id}", f"{sn.id}: network ACL association not in the model (ec2:DescribeNetworkAcls)")
        return None, tuple(out.reasons), tuple(out.explain)
    reached: Ports = {}
    unknown = False
    for v in exposed:
        unread = len(out.reasons)
        sg = _sg_admits(an, eni, v, out)
        if not sg and len(out.reasons) == unread:   # every group and rule read: none admits the internet
            out.stop(eni.id, "ENI_SG_RULES_MISMATCH",
                     f"no inbound rule of {', '.join(eni.security_group_ids)} admits IPv{v} internet sources")
        nacl, unreadable = acl_admits(acl, v)
        if nacl is None:
            out.unknown(f"{eni.id} → {acl.id}", unreadable or f"{acl.id}: not understood")
            unknown = True
            continue
        both = intersect(sg, nacl)
        if sg and not both:
            out.stop(f"{eni.id} → {acl.id}", "SUBNET_ACL_RESTRICTION",
                     f"admits none of {', '.join(ports_text(sg))} from IPv{v} internet sources")
        reached = union(reached, both)
    reasons = tuple(dict.fromkeys(out.reasons))
    explain = tuple(dict.fromkeys(out.explain))
    if reached:
        return ports_text(reached), reasons, explain
    if unknown or reasons:
        return None, reasons, explain
    return (), (), explain


def _ingress_answer(model: Model, eni: NetworkInterface) -> _Answer:
    an = _analyzer(model)
    k = _key(eni)
    found = an.ingress.get(k)
    if found is None:
        found = an.ingress[k] = _ingress(an, eni)
    return found


def internet_ingress_ports(model: Model, eni: NetworkInterface) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """What reaches a network interface from the internet, as ("tcp 22", "tcp 443", "udp
    53", "icmp", "all", ...), and the reasons some of it could not be told. Empty when the
    interface has no public address of a family its subnet routes to an internet gateway,
    or nothing is admitted; None when nothing definite is admitted and something could
    not be read (a definite port found is returned even then, with the reasons)."""
    ports, reasons, _ = _ingress_answer(model, eni)
    return ports, reasons


def internet_ingress_explained(model: Model, eni: NetworkInterface) -> tuple[str, ...]:
    """Why what reaches the interface from the internet is what it is: one line per point
    that stopped internet traffic (no public address, no route for replies, a security group
    admitting no internet source, a network ACL admitting none of it ...) or could not be
    read, each with its explanation code (auditor/analyze/explain.py)."""
    return _ingress_answer(model, eni)[2]


def ingress_resources(model: Model, eni: NetworkInterface) -> tuple[Resource, ...]:
    """The resources `internet_ingress_ports` reads for an interface with a public address:
    its subnet's route table, network ACL, security groups and their inbound rules (none for
    an interface without one: the interface itself is the evidence)."""
    if not eni.public_ips and not eni.ipv6_addresses:
        return ()
    an = _analyzer(model)
    out: list[Resource] = []
    sn = an.get("subnet", eni.subnet_id, eni.account, eni.region)
    if isinstance(sn, Subnet):
        rt, _ = an.subnet_table(sn.id, sn.account, sn.region)
        acl = an.acl_of(sn)
        out += [r for r in (rt, acl) if r is not None]
    for gid in eni.security_group_ids:
        sg = an.get("security_group", gid, eni.account, eni.region)
        if isinstance(sg, SecurityGroup):
            out.append(sg)
            out += [r for r in an.group_rules(sg) if not r.is_egress]
    return tuple(out)


# -- evidence --------------------------------------------------------------------------

_HOP_TYPES = {"subnet": "subnet", "route_table": "route_table", "igw": "internet_gateway",
              "eigw": "egress_only_internet_gateway", "nat": "nat_gateway", "instance": "instance",
              "eni": "network_interface", "gwlbe": "vpc_endpoint", "tgw": "transit_gateway",
              "tgw_route_table": "transit_gateway_route_table", "attachment": "transit_gateway_attachment",
              "pcx": "vpc_peering", "vgw": "vpn_gateway", "carrier": "carrier_gateway", "vpc": "vpc"}


def path_resources(model: Model, path: Path) -> tuple[Resource, ...]:
    """The model resources a path goes through (those in the model), in hop order."""
    out: dict[tuple[str, str, str, str], Resource] = {}
    for hop in path.hops:
        type_name = _HOP_TYPES.get(hop.kind)
        found = model.get(type_name, hop.id) if type_name else None
        if found is not None:
            out.setdefault((found.type_name, *_key(found)), found)
    return tuple(out.values())
