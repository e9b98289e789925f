"""Parity with VPC Reachability Analyzer: its explanation codes, its path components, and what
the reachability analysis (auditor/analyze/reachability.py) covers that it does not.

Data only, in our words (the code names are AWS's; every meaning is restated here). docs/
reachability.md's parity tables are generated from it (`auditor.docgen`), and
tests/test_explanation_codes.py holds it to `auditor.analyze.explain.CODES`: every AWS code we
emit is `emitted` here and the other way round.

`AWS_CODES`: every explanation code AWS documents (the "Path is not reachable", "Configuration"
and "Search filter" sections of the explanation codes page), each with our status: `emitted`
(in `CODES`), `not applicable` (it answers a question our analysis does not ask: search
filters, load balancer listeners and targets, ports and protocols) or `not covered` (it
applies to what we analyse, and we do not decide it yet), with the reason. `COMPONENTS`: the
resource types its documentation lists as sources and destinations, intermediate components
or path components, and how far we cover each. `BEYOND`: what we cover that its documentation
says it does not, with the page that says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from auditor.analyze.explain import Code

__all__ = ["AwsCode", "AWS_CODES", "Component", "COMPONENTS", "Beyond", "BEYOND", "STATUSES", "SECTIONS",
           "CODES_URL", "HOW_IT_WORKS_URL", "problems"]

CODES_URL = "https://docs.aws.amazon.com/vpc/latest/reachability/explanation-codes.html"
HOW_IT_WORKS_URL = "https://docs.aws.amazon.com/vpc/latest/reachability/how-reachability-analyzer-works.html"

Status = Literal["emitted", "not applicable", "not covered"]
Section = Literal["Path is not reachable", "Configuration", "Search filter"]
STATUSES: tuple[Status, ...] = ("emitted", "not applicable", "not covered")
SECTIONS: tuple[Section, ...] = ("Path is not reachable", "Configuration", "Search filter")


@dataclass(frozen=True)
class AwsCode:
    """One of Reachability Analyzer's explanation codes: the section of AWS's page it is listed
    in, what it means (in our words), our status and why (for `emitted`, where we use it)."""

    name: str
    section: Section
    meaning: str
    status: Status
    reason: str


_P: Section = "Path is not reachable"
_C: Section = "Configuration"
_F: Section = "Search filter"
_E: Status = "emitted"
_NA: Status = "not applicable"
_NC: Status = "not covered"
_LB = "we analyse routes and internet exposure, not load balancer listeners, target groups or targets"
_PORTS = "paths are followed per destination prefix; ports and protocols are read only on the ingress side"
_FILTER = "we have no search filters: every path of every source is reported"
_SG_REF = "ingress is analysed from internet sources only; a rule naming a security group admits no internet traffic"

AWS_CODES: tuple[AwsCode, ...] = (
    # -- Path is not reachable ------------------------------------------------------------------
    AwsCode("BAD_STATE", _P, "The component is not working (e.g. deleted or failed).", _E,
            "a NAT gateway deleting, deleted or failed; a peering connection that is not active"),
    AwsCode("BAD_STATE_ATTACHMENT", _P, "The attachment joining two components is not working.", _E,
            "a transit gateway attachment deleting, deleted, failed or rejected"),
    AwsCode("BAD_STATE_ROUTE", _P, "The route is not working.", _E, "a blackhole route of a VPC route table"),
    AwsCode("BAD_STATE_VPN", _P, "The VPN connection is not working.", _NC,
            "VPN connections and their tunnels are not collected; a virtual private gateway ends a path as on-premises"),
    AwsCode("CANNOT_ROUTE", _P, "The route's destination (a CIDR or a prefix list) does not match where the traffic "
            "goes, so the route cannot carry it.", _E, "a route of a VPC route table, to a target that can lead out, "
            "that the traffic reaching the table does not match"),
    AwsCode("ELB_ACL_RESTRICTION", _P, "A Classic Load Balancer's outbound traffic is filtered by the network ACL, even "
            "towards targets in its own subnet.", _NA, _LB),
    AwsCode("ELB_INSTALLED_AZ_RESTRICTION", _P, "A load balancer sends traffic only to targets in the Availability "
            "Zones enabled for it.", _NA, _LB),
    AwsCode("ELB_LISTENER_PORT_RESTRICTION", _P, "A Classic Load Balancer listener takes traffic for its port only.",
            _NA, _LB),
    AwsCode("ELB_LISTENERS_MISMATCH", _P, "No listener of the Classic Load Balancer accepts the traffic.", _NA, _LB),
    AwsCode("ELB_NOT_CROSSZONE", _P, "With cross-zone load balancing off, the load balancer cannot reach some "
            "targets.", _NA, _LB),
    AwsCode("ELBV2_LISTENER_HAS_NO_TG", _P, "The listener's target groups have no targets.", _NA, _LB),
    AwsCode("ELBV2_LISTENER_PORT_RESTRICTION", _P, "The listener takes traffic for its port only.", _NA, _LB),
    AwsCode("ELBV2_LISTENER_REQUIRES_TG_ACCEPT", _P, "No target group of the listener accepts the traffic.", _NA, _LB),
    AwsCode("ELBV2_LISTENERS_MISMATCH", _P, "No listener of the load balancer accepts the traffic.", _NA, _LB),
    AwsCode("ELBV2_NO_TARGETS_IN_AZ", _P, "The load balancer has no targets in the Availability Zones concerned.",
            _NA, _LB),
    AwsCode("ELBV2_SOURCE_ADDRESS_PRESERVATION", _P, "A Network Load Balancer with source address preservation passes "
            "the client's address on unchanged.", _NA, _LB),
    AwsCode("ENI_ADDRESS_RESTRICTION", _P, "A network interface passes only traffic from or to its own private "
            "addresses.", _NA, "traffic is followed by destination prefix from the source's subnet; the source address "
            "is not tracked (an appliance's source/destination check is ENI_SOURCE_DEST_CHECK_RESTRICTION)"),
    AwsCode("ENI_SG_RULES_MISMATCH", _P, "No rule of the security group applies to the traffic.", _E,
            "ingress: no inbound rule of the interface's security groups admits internet sources"),
    AwsCode("ENI_SOURCE_DEST_CHECK_RESTRICTION", _P, "An interface with source/destination check enabled drops "
            "traffic neither from nor to its own addresses, so it cannot forward.", _E,
            "a route to an instance or interface (NAT instance, appliance) with the check enabled"),
    AwsCode("FIREWALL_RULES_RESTRICTION", _P, "An AWS Network Firewall rule blocks the traffic.", _NC,
            "Network Firewall firewalls and rule groups are not collected"),
    AwsCode("GATEWAY_REJECTS_SPOOFED_TRAFFIC", _P, "Gateways drop traffic from the VPC whose source address is "
            "spoofed.", _NA, "the source address is not tracked: traffic leaves from its subnet's own addresses"),
    AwsCode("GWLB_DESTINATION_PORT_RESTRICTION", _P, "Traffic between a Gateway Load Balancer and its targets must "
            "go to port 6081.", _NA, "the Gateway Load Balancer and its targets are not analysed: a path continues "
            "from the endpoint through its subnet's route table"),
    AwsCode("GWLB_PROTOCOL_RESTRICTION", _P, "Traffic between a Gateway Load Balancer and its targets must be GENEVE "
            "(over UDP).", _NA, "the Gateway Load Balancer and its targets are not analysed: a path continues from the "
            "endpoint through its subnet's route table"),
    AwsCode("HIGHER_PRIORITY_ROUTE", _P, "A route for the same destination with higher priority takes the traffic.", _E,
            "a static route over a propagated one, a CIDR route over a prefix-list entry of the same destination, "
            "the local route over a more specific propagated route"),
    AwsCode("IGW_DESTINATION_ADDRESS_IN_VPC_CIDRS", _P, "An internet gateway takes inbound traffic only for addresses "
            "inside its VPC's CIDRs.", _NA, "ingress is analysed per interface and its public address; traffic from the "
            "internet to arbitrary addresses is not"),
    AwsCode("IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS", _P, "An internet gateway drops outbound traffic for private "
            "(RFC 1918) addresses.", _E, "traffic for private addresses handed to an internet gateway after other hops"),
    AwsCode("IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS", _P, "An internet gateway drops outbound traffic for shared "
            "(RFC 6598) addresses.", _E, "traffic for 100.64.0.0/10 handed to an internet gateway after other hops"),
    AwsCode("IGW_NAT_REFLECTION", _P, "An internet gateway in the middle of a path (traffic out and back in) is not "
            "analysed.", _NA, "a path ends at the internet gateway; traffic coming back in through it is not followed"),
    AwsCode("IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS", _P, "An internet gateway delivers inbound traffic only to the "
            "public address of an attached interface of its VPC.", _E, "an interface with no public IPv4 and no IPv6 "
            "address"),
    AwsCode("IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS", _P, "Outbound traffic through an internet gateway needs a source "
            "paired with a public address, on an attached interface of the VPC.", _E,
            "traffic a private NAT gateway translated, unless translated again (untranslated traffic from another VPC "
            "is still reported as a path: the analysis errs on the side of the path)"),
    AwsCode("IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS", _P, "An internet gateway drops inbound traffic from private "
            "(RFC 1918) sources.", _E, "a security group rule whose only sources are private admits nothing from the "
            "internet"),
    AwsCode("IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS", _P, "An internet gateway drops inbound traffic from shared "
            "(RFC 6598) sources.", _E, "a security group rule whose only sources are shared addresses"),
    AwsCode("INGRESS_RTB_NO_PUBLIC_IP", _P, "An appliance behind a gateway route table cannot take internet traffic "
            "without a public address.", _NC, "gateway route tables (edge associations of internet gateways) are "
            "not modelled for ingress"),
    AwsCode("INGRESS_RTB_TRAFFIC_REDIRECTION", _P, "A subnet whose traffic a gateway route table sends to an appliance "
            "does not get the internet gateway directly, whatever its own route table says.", _NC,
            "gateway route tables (edge associations of internet gateways) are not modelled for ingress"),
    AwsCode("MORE_SPECIFIC_ROUTE", _P, "A more specific route matches, so this route is not used.", _E,
            "a route of a VPC route table, to a target that can lead out, whose whole share of the traffic more "
            "specific routes take"),
    AwsCode("NGW_DEST_ADDRESS_PRESERVATION", _P, "A NAT gateway leaves the destination address as it is.", _E,
            "on every path through a NAT gateway"),
    AwsCode("NGW_REQUIRES_SOURCE_IN_VPC", _P, "A NAT gateway forwards only traffic from interfaces of its own VPC, not "
            "traffic arriving over peering, VPN or Direct Connect.", _NC, "not emitted: paths never continue past a "
            "peering connection, VPN or Direct Connect, so such traffic never reaches a NAT gateway in the analysis"),
    AwsCode("NGW_SOURCE_ADDRESS_REASSIGN", _P, "A NAT gateway replaces the source address with its own private "
            "address.", _E, "on every path through a NAT gateway"),
    AwsCode("NO_POSSIBLE_DESTINATION", _P, "The component has nowhere to deliver the traffic, or sends it to another "
            "account or Region.", _E, "a transit gateway peering attachment whose peer side is not in the snapshot"),
    AwsCode("NO_ROUTE_TO_DESTINATION", _P, "The route table has no route that applies to the destination.", _E,
            "the part of the traffic no route of a VPC or transit gateway route table matches; ingress: no route to an "
            "internet gateway for the replies"),
    AwsCode("PCX_REQUIRES_ADDRESS_IN_VPC_CIDR", _P, "A peering connection carries only traffic whose source or "
            "destination is inside the CIDRs of the VPC across it.", _E,
            "the part of a peering route's traffic outside the peer VPC's CIDRs"),
    AwsCode("PROTOCOL_RESTRICTION", _P, "The component accepts only some protocols.", _NA, _PORTS),
    AwsCode("REGIONAL_NGW_ROUTE_AZ_RESTRICTION", _P, "A regional NAT gateway is not registered in the Availability Zone "
            "the traffic comes from.", _NC, "Availability Zone affinity is not modelled"),
    AwsCode("REMAP_EPHEMERAL_PORT", _P, "A NAT gateway or load balancer rewrites the source port to an ephemeral port "
            "(1024-65535).", _E, "on every path through a NAT gateway"),
    AwsCode("SG_HAS_NO_RULES", _P, "The security group has no rules (in the direction concerned).", _E,
            "ingress: a security group of the interface with no inbound rule"),
    AwsCode("SG_REFERENCES_NOT_PRESERVED", _P, "The component drops the security group identity of forwarded traffic, "
            "so rules naming security groups do not match it.", _NA, _SG_REF),
    AwsCode("SG_REFERENCING_SUPPORT", _P, "Security group referencing is off on the transit gateway VPC attachment, so "
            "rules naming security groups do not match traffic through it.", _NA, _SG_REF),
    AwsCode("SUBNET_ACL_RESTRICTION", _P, "The subnet's network ACL does not admit the traffic.", _E,
            "ingress: the subnet's ACL admits none of what the security groups admit from the internet"),
    AwsCode("TARGET_ADDRESS_RESTRICTION", _P, "A load balancer routes only traffic for one of its targets' addresses.",
            _NA, _LB),
    AwsCode("TARGET_PORT_RESTRICTION", _P, "A load balancer sends to a target on its registered port only.", _NA, _LB),
    AwsCode("TGW_ATTACH_MISSING_TGW_RTB_ASSOCIATION", _P, "The transit gateway attachment is associated with no transit "
            "gateway route table.", _E, "when every route table's associations were collected without it"),
    AwsCode("TGW_ATTACH_VPC_AZ_RESTRICTION", _P, "A VPC attachment forwards to an interface only in the Availability "
            "Zone the traffic came through (default mode) or went through on the way in (appliance mode).", _NC,
            "which attachment subnet the traffic leaves by (same zone, appliance mode) is not modelled: every attachment "
            "subnet's table is followed"),
    AwsCode("TGW_BAD_STATE_VPN", _P, "The transit gateway's VPN connection is not working.", _E,
            "a VPN attachment deleting, deleted, failed or rejected"),
    AwsCode("TGW_ROUTE_AZ_RESTRICTION", _P, "The transit gateway has no attachment subnet in the Availability Zone the "
            "traffic comes from.", _E, "traffic sent to a transit gateway from a zone where the VPC attachment has no "
            "subnet (the zones known)"),
    AwsCode("TGW_RTB_BAD_STATE_ROUTE", _P, "The transit gateway route for the destination is not working.", _E,
            "a blackhole transit gateway route"),
    AwsCode("TGW_RTB_CANNOT_ROUTE", _P, "The transit gateway route does not match the traffic's destination.", _E,
            "a transit gateway route for internet addresses that the traffic reaching the table does not match"),
    AwsCode("TGW_RTB_HIGHER_PRIORITY_ROUTE", _P, "A transit gateway route for the same destination with higher priority "
            "takes the traffic.", _E, "a static route over a propagated one, a CIDR route over a prefix-list route "
            "of the same destination"),
    AwsCode("TGW_RTB_MORE_SPECIFIC_ROUTE", _P, "A more specific transit gateway route takes the traffic.", _E,
            "a transit gateway route for internet addresses whose whole share of the traffic more specific routes "
            "take"),
    AwsCode("TGW_RTB_NO_ROUTE_TO_TGW_ATTACHMENT", _P, "The transit gateway route table has no route to the attachment "
            "concerned.", _NC, "without a destination resource, a transit gateway table with no route for the traffic "
            "says NO_ROUTE_TO_DESTINATION"),
    AwsCode("TGW_RTB_ROUTES_ARE_UNKNOWN", _P, "The transit gateway route table's routes are not known (e.g. another "
            "account's table).", _E, "routes not collected: the path is unknown, never no path"),
    AwsCode("UNKNOWN_DESTINATION", _P, "Too little is known about the destination to go on.", _E,
            "a prefix list's entries, a route's destination or a peer VPC's CIDRs not reported"),
    AwsCode("UNKNOWN_PEERED_SGS", _P, "A VPC of the peering connection is unknown (often another account's), so rules "
            "naming its security groups are taken to deny.", _NA, _SG_REF),
    AwsCode("UNKNOWN_RESOURCE", _P, "The resource could not be described, so it cannot be analysed.", _E,
            "a component a route or path names that is not in the snapshot; ingress: a security group not in it"),
    AwsCode("VGW_PRIVATE_IP_ASSOCIATION_FOR_EGRESS", _P, "A virtual private gateway takes outbound traffic only from an "
            "attached interface of its VPC.", _NA, "the source address is not tracked: traffic leaves from its "
            "subnet's own addresses"),
    AwsCode("VGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS", _P, "A virtual private gateway delivers inbound traffic only to "
            "the private address of an attached interface of its VPC.", _NA, "ingress from on-premises networks is "
            "not analysed (ingress is from the internet)"),
    AwsCode("VPC_BLOCK_PUBLIC_ACCESS_ENABLED", _P, "VPC Block Public Access blocks the internet traffic.", _NC,
            "Block Public Access settings do not stop a path in the analysis (a path it would block is still reported)"),
    AwsCode("VPC_LOCAL_ROUTE_CIDR_RESTRICTION", _P, "The local route applies only to destinations inside the VPC's "
            "CIDRs.", _E, "the part of a subnet's traffic the local route keeps inside its own VPC"),
    AwsCode("VPCE_GATEWAY_EGRESS_SOURCE_ADDRESS_RESTRICTION", _P, "A gateway endpoint emits only traffic whose source is "
            "in its prefix list's CIDRs.", _NA, "traffic into the VPC from a gateway endpoint (the service's replies) "
            "is not followed"),
    AwsCode("VPCE_GATEWAY_PROTOCOL_RESTRICTION", _P, "A gateway endpoint carries only TCP and ICMP echo (and their "
            "replies).", _NA, _PORTS),
    AwsCode("VPCE_INTRA_VPC_TRAFFIC", _P, "A VPC endpoint cannot open connections to resources of its own VPC.", _NA,
            "endpoints are never sources in the analysis"),
    AwsCode("VPCE_SERVICE_NOT_INSTALLED_IN_AZ", _P, "The endpoint service is not offered in the Availability Zone "
            "concerned.", _NC, "endpoint services (PrivateLink providers) and Availability Zones are not analysed"),
    # -- Configuration ----------------------------------------------------------------------------
    AwsCode("DISCONNECTED_VPCS", _C, "The two VPCs are joined by nothing the analysis supports.", _E,
            "no path to another VPC: the explanation of vpc_paths"),
    AwsCode("NO_PATH", _C, "No path was found from the source to the destination.", _E,
            "no path to the internet or on-premises: the explanation of the path lists, with every stop"),
    AwsCode("NO_SOURCE_OR_DESTINATION", _C, "The source or the destination does not exist.", _NA,
            "sources are the snapshot's own subnets and interfaces; there is no destination resource to miss"),
    AwsCode("UNASSOCIATED_COMPONENT", _C, "The component is associated with no VPC of the account, or none of its "
            "interfaces has an IPv4 address.", _E, "broader: any association that cannot be told (a subnet's "
            "effective route table, a gateway's or attachment's subnets, an attachment's transit gateway route table)"),
    AwsCode("UNSUPPORTED_COMPONENT", _C, "The analysis does not support the component.", _E,
            "Cloud WAN, route servers, Oracle Database@AWS, Connect attachments, endpoint or target kinds not known"),
    # -- Search filter ----------------------------------------------------------------------------
    AwsCode("COMPONENT_FILTER_RESTRICTION", _F, "No path goes through the component the filter requires.", _NA, _FILTER),
    AwsCode("COMPONENT_FILTER_RESTRICTION_REMOVED_COMPONENT", _F, "No path goes through the required component once an "
            "intermediate component filter is applied.", _NA, _FILTER),
    AwsCode("FILTER_AT_DESTINATION_DESTINATION_ADDRESS", _F, "No path arrives with the destination address the filter "
            "asks for.", _NA, _FILTER),
    AwsCode("FILTER_AT_DESTINATION_DESTINATION_PORT_RANGE", _F, "No path arrives with the destination ports the filter "
            "asks for.", _NA, _FILTER),
    AwsCode("FILTER_AT_DESTINATION_PROTOCOL", _F, "No path arrives with the protocol the filter asks for.", _NA, _FILTER),
    AwsCode("FILTER_AT_DESTINATION_SOURCE_ADDRESS", _F, "No path arrives with the source address the filter asks for.",
            _NA, _FILTER),
    AwsCode("FILTER_AT_DESTINATION_SOURCE_PORT_RANGE", _F, "No path arrives with the source ports the filter asks for.",
            _NA, _FILTER),
    AwsCode("FILTER_AT_SOURCE_DESTINATION_ADDRESS", _F, "No path leaves with the destination address the filter asks "
            "for.", _NA, _FILTER),
    AwsCode("FILTER_AT_SOURCE_DESTINATION_PORT_RANGE", _F, "No path leaves with the destination ports the filter asks "
            "for.", _NA, _FILTER),
    AwsCode("FILTER_AT_SOURCE_PROTOCOL", _F, "No path leaves with the protocol the filter asks for.", _NA, _FILTER),
    AwsCode("FILTER_AT_SOURCE_SOURCE_ADDRESS", _F, "No path leaves with the source address the filter asks for.", _NA,
            _FILTER),
    AwsCode("FILTER_AT_SOURCE_SOURCE_PORT_RANGE", _F, "No path leaves with the source ports the filter asks for.", _NA,
            _FILTER),
    AwsCode("IGW_EXPECTS_PUBLIC_ADDRESS", _F, "With an internet gateway as the resource, the addresses given must be "
            "public.", _NA, _FILTER),
)


Coverage = Literal["yes", "partly", "no"]


@dataclass(frozen=True)
class Component:
    """A resource type Reachability Analyzer's documentation lists, in which roles (source or
    destination, intermediate component, path component), whether we cover it, and how."""

    name: str
    roles: tuple[str, ...]
    covered: Coverage
    how: str


_SD, _IC, _PC = "source/destination", "intermediate", "path component"

COMPONENTS: tuple[Component, ...] = (
    Component("EC2 instances", (_SD, _PC), "yes", "route targets (NAT instances, appliances): followed through the "
              "subnets of every interface, stopped by source/destination check; their interfaces are sources"),
    Component("Network interfaces", (_SD, _PC), "yes", "sources of egress paths and of internet ingress; route targets "
              "(appliances)"),
    Component("Subnets", (_PC,), "yes", "the sources of egress paths, through their effective route table"),
    Component("VPCs", (_PC,), "yes", "the local route; other VPCs are a destination (vpc paths)"),
    Component("Route tables", (_PC,), "partly", "longest prefix match, route priority (static, prefix-list, "
              "propagated; the local route first), blackhole routes, the main table; gateway route tables not "
              "modelled"),
    Component("Prefix lists", (_PC,), "yes", "routes to prefix lists (one route per entry), security group rules with "
              "prefix-list sources"),
    Component("Internet gateways", (_SD, _PC), "yes", "the end of an internet path (IPv4 and IPv6); ingress needs a "
              "route to one"),
    Component("NAT gateways", (_IC, _PC), "yes", "public and private, followed through their own subnet's route table; "
              "a private NAT gateway's traffic is dropped by an internet gateway unless translated again"),
    Component("Transit gateways", (_SD, _IC, _PC), "yes", "through the route table associated with the source "
              "attachment; peering attachments followed when the peer side is in the snapshot"),
    Component("Transit gateway attachments", (_SD, _IC, _PC), "partly", "VPC, VPN, Direct Connect gateway and peering "
              "attachments; traffic only from zones where a VPC attachment has a subnet; Connect attachments are "
              "UNSUPPORTED_COMPONENT (as in Reachability Analyzer); appliance mode not modelled"),
    Component("Transit gateway route tables", (_PC,), "yes", "association, longest prefix match, static over "
              "propagated routes, blackhole and prefix-list routes"),
    Component("VPC peering connections", (_SD, _IC, _PC), "yes", "the peer VPC's CIDRs only, never beyond; status"),
    Component("Virtual private gateways", (_SD, _PC), "yes", "the end of an on-premises path"),
    Component("VPN connections", (_PC,), "no", "not collected: a virtual private gateway or transit gateway VPN "
              "attachment ends the path"),
    Component("VPC endpoints", (_SD, _PC), "partly", "gateway and interface endpoints end a path in the AWS service "
              "network; Gateway Load Balancer endpoints continue through their subnet's route table; endpoint policies "
              "are analysed by the endpoint-policy analyzer (docs/endpoint-policies.md)"),
    Component("VPC gateway endpoints", (_PC,), "yes", "a route to one (its service's prefix list) ends the path"),
    Component("VPC endpoint services", (_SD, _PC), "no", "the provider side of PrivateLink is not analysed"),
    Component("Load balancers", (_IC, _PC), "no", "listeners and targets are not analysed; an interface of a load "
              "balancer (no security groups) is NOT_ANALYSED_INGRESS"),
    Component("Target groups", (_PC,), "no", "not analysed"),
    Component("AWS Network Firewall", (_IC, _PC), "no", "not collected: its rules are not read; a route to a firewall "
              "endpoint the snapshot does not list as a VPC endpoint is UNKNOWN_RESOURCE (unknown, never no path)"),
    Component("Security groups", (_PC,), "partly", "inbound rules from internet sources for ingress; egress paths are "
              "routes, not filtered by outbound rules; rules naming security groups admit no internet traffic"),
    Component("Network ACLs", (_PC,), "partly", "inbound entries in rule-number order for ingress; egress paths are not "
              "filtered by ACLs"),
)


@dataclass(frozen=True)
class Beyond:
    """Something we cover that Reachability Analyzer's documentation says it does not: what
    we do, what its documentation says, and the page."""

    what: str
    theirs: str
    url: str


BEYOND: tuple[Beyond, ...] = (
    Beyond("IPv6 paths (::/0 to internet and egress-only internet gateways) and IPv6 ingress",
           "it supports only resources with an IPv4 address, and analyses only the IPv4 addresses of a resource that "
           "has both", HOW_IT_WORKS_URL),
    Beyond("every subnet and interface of the snapshot at once, to every destination (internet, on-premises, other "
           "VPCs), in one run",
           "each analysis is one path you specify, from one source to one destination", HOW_IT_WORKS_URL),
    Beyond("every path to a destination, each with its codes",
           "where several paths reach the destination it shows the shortest one", HOW_IT_WORKS_URL),
    Beyond("egress-only internet gateways, carrier gateways and Outposts local gateways at the end of a path",
           "none of them is among its documented sources, destinations, intermediate or path components",
           HOW_IT_WORKS_URL),
    Beyond("transit gateway peering across Regions, when the snapshot holds both sides",
           "the source and the destination must be in the same Region", HOW_IT_WORKS_URL),
    Beyond("routing loops, cut and reported (ROUTING_LOOP)",
           "none of its explanation codes reports a loop", CODES_URL),
    Beyond("VPC endpoint policies, by the endpoint-policy analyzer (docs/endpoint-policies.md)",
           "none of its explanation codes concerns an endpoint policy; it analyses the network path only",
           CODES_URL),
    Beyond("Terraform plans and CloudFormation templates before deploy (docs/plans.md)",
           "it builds its model from the configuration of the resources in your accounts", HOW_IT_WORKS_URL),
    Beyond("offline, from a snapshot, with the evidence kept in the bundle for as long as it is kept",
           "each analysis is made by the service from the configuration in your accounts, and deleted 120 days after it was made",
           HOW_IT_WORKS_URL),
)


_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def problems(aws_codes: Iterable[AwsCode], codes: Mapping[str, Code]) -> list[str]:
    """What is wrong with a parity list against the codes the analysis emits (`CODES`): a name
    that is not an AWS-style code or is listed twice, a status or section not allowed, an
    empty meaning or reason, an AWS code the analysis emits that is not `emitted` here, and an
    `emitted` one the analysis does not emit. Empty when all agree."""
    listed = tuple(aws_codes)
    out: list[str] = []
    seen: set[str] = set()
    for c in listed:
        if not _NAME.fullmatch(c.name):
            out.append(f"{c.name!r}: not an explanation code name (upper case words joined by _)")
        if c.name in seen:
            out.append(f"{c.name}: listed twice")
        seen.add(c.name)
        if c.status not in STATUSES:
            out.append(f"{c.name}: status {c.status!r} is not one of {', '.join(STATUSES)}")
        if c.section not in SECTIONS:
            out.append(f"{c.name}: section {c.section!r} is not one of {', '.join(SECTIONS)}")
        if not c.meaning.strip() or not c.reason.strip():
            out.append(f"{c.name}: its meaning and reason must be given")
        ours = codes.get(c.name)
        if c.status == "emitted" and (ours is None or not ours.aws):
            out.append(f"{c.name}: 'emitted' here, but not an AWS code of CODES")
    for name, code in codes.items():
        if code.aws and name not in seen:
            out.append(f"{name}: an AWS code of CODES missing from the parity list")
        elif code.aws and not any(c.name == name and c.status == "emitted" for c in listed):
            out.append(f"{name}: emitted (an AWS code of CODES) but not 'emitted' in the parity list")
    return out
