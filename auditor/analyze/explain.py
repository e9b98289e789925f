"""Explanation codes: why the reachability analysis found a path, stopped one, or could not tell.

Every path the analysis reports, and every part of a source's traffic that reaches no
gateway, carries a code in AWS's own vocabulary where one exists: the explanation codes of
VPC Reachability Analyzer (https://docs.aws.amazon.com/vpc/latest/reachability/explanation-codes.html).
Where AWS has none (an internet path found, traffic delivered to the AWS service network by an
endpoint, a routing loop, data the snapshot lacks) the code is ours, documented the same way.
`CODES` is the one list: docs/reachability.md's parity table is generated from it
(`auditor.docgen`), and tests/test_explanation_codes.py holds a fixture for every code the
analysis emits.

An explanation is one line: the hops that led there, the code and what it means there::

    subnet-a → rtb-1 0.0.0.0/0: NO_ROUTE_TO_DESTINATION (no route for 0.0.0.0/0 outside 10.0.0.0/16)

A `Stop` is one part of the traffic that ended without reaching a destination (or could not be
followed); `certain` is False for the ones the data could not decide (they are also in
`Reachability.indeterminate`, in the words rules have always reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Code", "CODES", "Stop", "AWS_CODES_URL", "code"]

AWS_CODES_URL = "https://docs.aws.amazon.com/vpc/latest/reachability/explanation-codes.html"

Kind = Literal["blocked", "unknown", "reached", "summary"]
Side = Literal["egress", "ingress", "both"]


@dataclass(frozen=True)
class Code:
    """One explanation code.

    `aws`: the code is Reachability Analyzer's (its meaning restated in our words); otherwise
    it is ours. `kind`: `blocked` (this part of the traffic goes no further, for certain),
    `unknown` (the data cannot tell: never read as "no path"), `reached` (a path goes on or
    ends at a destination), `summary` (a destination with no path at all). `side`: whether it
    explains traffic leaving a source (egress), reaching an interface (ingress) or both.
    `meaning`: what it says, as the reports explain it."""

    name: str
    aws: bool
    kind: Kind
    side: Side
    meaning: str


def _codes(*codes: Code) -> dict[str, Code]:
    out: dict[str, Code] = {}
    for c in codes:
        assert c.name not in out, c.name
        out[c.name] = c
    return out


CODES: dict[str, Code] = _codes(
    # -- AWS's codes: a route table's decision ---------------------------------------------
    Code("NO_ROUTE_TO_DESTINATION", True, "blocked", "both",
         "The route table has no route for this part of the traffic: it is dropped here (egress), or "
         "replies to the internet have no route to an internet gateway (ingress)."),
    Code("VPC_LOCAL_ROUTE_CIDR_RESTRICTION", True, "blocked", "egress",
         "The local route covers only the VPC's own CIDRs: this part of the traffic stays inside the "
         "source's VPC and leaves through no gateway."),
    Code("MORE_SPECIFIC_ROUTE", True, "blocked", "egress",
         "This route carries none of the traffic: more specific routes of the same table take all of "
         "what it would match."),
    Code("HIGHER_PRIORITY_ROUTE", True, "blocked", "egress",
         "This route carries none of the traffic: another route of the same table with the same "
         "destination takes priority (a CIDR route over a prefix-list route)."),
    Code("CANNOT_ROUTE", True, "blocked", "egress",
         "This route's destination does not match the traffic that reaches the table (e.g. a narrower "
         "class handed on by a transit gateway), so it carries none of it."),
    Code("BAD_STATE_ROUTE", True, "blocked", "egress",
         "The matching route is a blackhole route (its target is gone): the traffic is dropped."),
    Code("BAD_STATE", True, "blocked", "egress",
         "The component the route leads to is not in a functional state (a NAT gateway deleting, "
         "deleted or failed; a peering connection that is not active): it carries nothing."),
    Code("BAD_STATE_ATTACHMENT", True, "blocked", "egress",
         "The transit gateway attachment is not in a functional state (deleting, deleted, failed, "
         "rejected): it carries nothing."),
    Code("TGW_BAD_STATE_VPN", True, "blocked", "egress",
         "The transit gateway's VPN attachment is in a non-functional state: it carries nothing."),
    Code("PCX_REQUIRES_ADDRESS_IN_VPC_CIDR", True, "blocked", "egress",
         "A peering connection carries only traffic for the peer VPC's CIDRs: the rest of what the "
         "route sends to it is dropped (peering never transits to the peer's gateways)."),
    Code("IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS", True, "blocked", "egress",
         "An internet gateway drops outbound traffic for private (RFC 1918) addresses: this part of "
         "the traffic, handed on by earlier hops, goes nowhere on the internet."),
    Code("IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS", True, "blocked", "egress",
         "An internet gateway drops outbound traffic for shared (RFC 6598, 100.64.0.0/10) addresses."),
    Code("IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS", True, "blocked", "egress",
         "An internet gateway drops traffic whose source has no public address: a private NAT "
         "gateway translated it to its private address and nothing translated it again."),
    Code("ENI_SOURCE_DEST_CHECK_RESTRICTION", True, "blocked", "egress",
         "The instance or network interface the route leads to has source/destination check enabled: "
         "it drops traffic not addressed to itself, so it forwards nothing."),
    Code("TGW_ROUTE_AZ_RESTRICTION", True, "blocked", "egress",
         "A transit gateway receives traffic from a VPC only in the availability zones where the VPC "
         "attachment has a subnet: traffic sent from another zone is dropped."),
    Code("TGW_ATTACH_MISSING_TGW_RTB_ASSOCIATION", True, "blocked", "egress",
         "The transit gateway attachment the traffic enters through is associated with no transit "
         "gateway route table (every table's associations were collected): nothing is forwarded."),
    Code("TGW_RTB_BAD_STATE_ROUTE", True, "blocked", "egress",
         "The matching transit gateway route is a blackhole route: the traffic is dropped."),
    Code("TGW_RTB_MORE_SPECIFIC_ROUTE", True, "blocked", "egress",
         "This transit gateway route carries none of the traffic: more specific routes take it all."),
    Code("TGW_RTB_HIGHER_PRIORITY_ROUTE", True, "blocked", "egress",
         "This transit gateway route carries none of the traffic: a route with the same destination "
         "takes priority (a CIDR route over a prefix-list route)."),
    Code("TGW_RTB_CANNOT_ROUTE", True, "blocked", "egress",
         "This transit gateway route's destination does not match the traffic that reaches the table."),
    # -- AWS's codes: what the data cannot tell ----------------------------------------------
    Code("UNKNOWN_RESOURCE", True, "unknown", "both",
         "A component the route or path names is not in the snapshot (not collected, another account "
         "or region, or gone): the path cannot be followed, and no path is never concluded from it."),
    Code("TGW_RTB_ROUTES_ARE_UNKNOWN", True, "unknown", "egress",
         "The transit gateway route table's routes were not collected (or belong to an account that was "
         "not): what it does with the traffic is unknown."),
    Code("UNSUPPORTED_COMPONENT", True, "unknown", "egress",
         "The component is one the analysis does not model (Cloud WAN core network, route server, "
         "Oracle Database@AWS, Connect attachment, a target of unknown kind)."),
    Code("UNKNOWN_DESTINATION", True, "unknown", "both",
         "Where the component sends the traffic is not reported (a peer VPC's CIDRs, a route's "
         "destination, a prefix list's entries)."),
    Code("NO_POSSIBLE_DESTINATION", True, "unknown", "egress",
         "The component sends the traffic to another account or region whose side is not in the "
         "snapshot (a transit gateway peering attachment): collect it to follow the path."),
    Code("UNASSOCIATED_COMPONENT", True, "unknown", "both",
         "The component's association is not known: a subnet's effective route table, a gateway's "
         "or attachment's subnet, an attachment's transit gateway route table."),
    # -- AWS's codes: the answer for a destination ---------------------------------------------
    Code("NO_PATH", True, "summary", "egress",
         "No path reaches this destination: every part of the traffic stops at one of the listed "
         "hops, for the listed reasons."),
    Code("DISCONNECTED_VPCS", True, "summary", "egress",
         "No path reaches another VPC: no peering or transit gateway route carries the traffic."),
    # -- AWS's codes: what a path's hops do to the traffic ------------------------------------
    Code("NGW_SOURCE_ADDRESS_REASSIGN", True, "reached", "egress",
         "The NAT gateway on the path replaces the source address with its own (private NAT: its "
         "private address; public NAT: its Elastic IP beyond the internet gateway)."),
    Code("NGW_DEST_ADDRESS_PRESERVATION", True, "reached", "egress",
         "The NAT gateway on the path does not change the destination address: the route tables "
         "after it see the same destinations."),
    Code("REMAP_EPHEMERAL_PORT", True, "reached", "egress",
         "The NAT gateway on the path remaps the source port to an ephemeral port (1024-65535)."),
    # -- AWS's codes: ingress ---------------------------------------------------------------------
    Code("IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS", True, "blocked", "ingress",
         "An internet gateway delivers inbound traffic only to an interface's public address: the "
         "interface has none (IPv4) and no IPv6 address."),
    Code("ENI_SG_RULES_MISMATCH", True, "blocked", "ingress",
         "No inbound rule of the interface's security groups admits traffic from internet sources."),
    Code("SG_HAS_NO_RULES", True, "blocked", "ingress",
         "This security group has no inbound rules: it admits nothing."),
    Code("SUBNET_ACL_RESTRICTION", True, "blocked", "ingress",
         "The subnet's network ACL admits none of what the security groups admit from the internet "
         "(entries in rule-number order, first match wins)."),
    Code("IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS", True, "blocked", "ingress",
         "This inbound rule admits only private (RFC 1918) sources: an internet gateway rejects "
         "inbound traffic from them, so it admits nothing from the internet."),
    Code("IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS", True, "blocked", "ingress",
         "This inbound rule admits only shared (RFC 6598) sources: nothing from the internet."),
    # -- our codes ------------------------------------------------------------------------------
    Code("REACHES_INTERNET_GATEWAY", False, "reached", "egress",
         "The path ends at an internet gateway (IPv4 or IPv6) with traffic for internet addresses."),
    Code("REACHES_EGRESS_ONLY_GATEWAY", False, "reached", "egress",
         "The path ends at an egress-only internet gateway (IPv6 to the internet)."),
    Code("REACHES_CARRIER_GATEWAY", False, "reached", "egress",
         "The path ends at a carrier gateway (Wavelength: the carrier's network and the internet)."),
    Code("OWN_ROUTE_TO_INTERNET_GATEWAY", False, "reached", "egress",
         "The source's own route table sends traffic to an internet, egress-only or carrier gateway: an "
         "internet path whatever the route's destination (the catalogue's strict reading of NET-RT-01)."),
    Code("REACHES_ON_PREMISES", False, "reached", "egress",
         "The path ends at a virtual private gateway, an Outposts local gateway, or a transit gateway "
         "VPN or Direct Connect gateway attachment."),
    Code("REACHES_VPC", False, "reached", "egress",
         "The path delivers the traffic inside another VPC (a peering connection, to the peer's CIDRs; "
         "a transit gateway VPC attachment whose VPC routes it locally)."),
    Code("ENDS_AT_SERVICE_ENDPOINT", False, "blocked", "egress",
         "A gateway or interface VPC endpoint takes this part of the traffic to the AWS service "
         "network: it reaches no gateway."),
    Code("IGW_DESTINATION_NOT_ROUTABLE", False, "blocked", "egress",
         "An internet gateway drops outbound traffic for link-local, loopback or unique-local "
         "addresses, which the internet never carries."),
    Code("ROUTING_LOOP", False, "blocked", "egress",
         "The path comes back to a route table it went through for the same destination: AWS would "
         "drop the traffic when its TTL runs out; the loop is cut and reported."),
    Code("PATH_TOO_LONG", False, "unknown", "egress",
         "The path passes more route tables than the analysis follows (64): where it goes is unknown."),
    Code("ROUTE_STATE_UNKNOWN", False, "unknown", "egress",
         "A transit gateway route's state is not reported or is transitional (pending, deleting), an active "
         "transit gateway route lists no attachment, or a peering connection's status is not one AWS "
         "documents: whether it carries traffic is unknown."),
    Code("NAT_GATEWAY_NO_INBOUND", False, "blocked", "ingress",
         "The interface is a NAT gateway's: a NAT gateway accepts no connection from the internet."),
    Code("NOT_ANALYSED_INGRESS", False, "unknown", "ingress",
         "What the interface admits depends on the service behind it (no security groups), or its "
         "filters could not be read."),
)


def code(name: str) -> Code:
    """The code of that name; KeyError for a name not in `CODES` (a typo is a bug)."""
    return CODES[name]


@dataclass(frozen=True, slots=True)
class Stop:
    """One part of a source's traffic that ended (or could not be followed), and why.

    `hops` is the text of the hops that led there (``subnet-a → rtb-1 0.0.0.0/0``), `code` a
    name in `CODES`, `detail` what happened there in words, `certain` False when the data could
    not decide (the reason is then also in `Reachability.indeterminate`)."""

    hops: str
    code: str
    detail: str
    certain: bool = True

    @property
    def text(self) -> str:
        head = f"{self.hops}: " if self.hops else ""
        return f"{head}{self.code} ({self.detail})" if self.detail else f"{head}{self.code}"
