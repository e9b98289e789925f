"""Derived attributes for the exposure rules (service-exposure and traffic-filtering packs).

Security group rules get the other side of the rule in one known value (`peer`, `peer_kind`,
`peer_prefix_list`), because the model keeps it in four optional fields of which exactly
one is set, and an operator reads an unset field as unknown. Network ACLs get
`internet_ingress`: the TCP and UDP ports their inbound entries admit from anywhere, in
rule-number order (first match wins), so that a lower-numbered deny shadows an allow.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from auditor.analyze.ports import Interval, minus
from auditor.model.types import Model, NaclEntry, NetworkAcl, PrefixList, SecurityGroup, SecurityGroupRule
from auditor.rules.derive import Derived, DerivedAttribute, derived, ec2, own_sources, refs, sg_rules

# -- security group rules --------------------------------------------------------------

_PROTOCOL_NAMES = {"-1": "all traffic", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def _protocol_name(protocol: str) -> str:
    """AWS writes the protocol as a name (tcp, udp, icmp, icmpv6), a number, or -1 for all."""
    name = _PROTOCOL_NAMES.get(protocol, protocol.lower())
    return name if not name.isdigit() else f"protocol {name}"


def _peer(rule: SecurityGroupRule) -> tuple[str, str] | None:
    """(kind, value) of the other side of a rule; AWS sets exactly one of the four fields."""
    for kind, value in (("ipv4", rule.cidr_ipv4), ("ipv6", rule.cidr_ipv6),
                        ("prefix_list", rule.prefix_list_id), ("security_group", rule.referenced_group_id)):
        if value:
            return kind, value
    return None


def _ports_text(protocol: str, from_port: int | None, to_port: int | None) -> str:
    name = _protocol_name(protocol)
    if name not in ("tcp", "udp"):
        return name  # all traffic, ICMP (type/code, not ports), or a protocol without ports
    lo = 0 if from_port is None or from_port == -1 else from_port
    hi = 65535 if to_port is None or to_port == -1 else to_port
    if (lo, hi) == (0, 65535):
        return f"{name} all ports"
    return f"{name} {lo}" if lo == hi else f"{name} {lo}-{hi}"


def rule_summary(rule: SecurityGroupRule) -> str:
    """One line for messages: ``sgr-1: ingress tcp 22 from 0.0.0.0/0``."""
    direction, preposition = ("egress", "to") if rule.is_egress else ("ingress", "from")
    peer = _peer(rule)
    return (f"{rule.id}: {direction} {_ports_text(rule.protocol, rule.from_port, rule.to_port)} "
            f"{preposition} {peer[1] if peer else 'unknown'}")


@derived("security_group_rule", "peer", requires=ec2("DescribeSecurityGroupRules"),
         doc="The other side of the rule (source of an ingress rule, destination of an egress rule) as AWS "
             "names it: an IPv4 or IPv6 CIDR, a prefix-list id or a security group id; null when the rule "
             "names none.")
def _sgr_peer(model: Model, rule: SecurityGroupRule) -> Derived[str | None]:
    peer = _peer(rule)
    return Derived(peer[1] if peer else None)


@derived("security_group_rule", "peer_kind", requires=ec2("DescribeSecurityGroupRules"),
         doc="What the other side of the rule is: ipv4, ipv6 (a CIDR), prefix_list or security_group; "
             "null when the rule names none.")
def _sgr_peer_kind(model: Model, rule: SecurityGroupRule) -> Derived[str | None]:
    peer = _peer(rule)
    return Derived(peer[0] if peer else None)


@derived("security_group_rule", "peer_prefix_list",
         requires=ec2("DescribeSecurityGroupRules", "DescribeManagedPrefixLists"),
         doc="The managed prefix list the rule names as its other side (name, owner_id, cidrs); null when "
             "the rule names none, or names one not in the model (e.g. shared from another account).")
def _sgr_prefix_list(model: Model, rule: SecurityGroupRule) -> Derived[PrefixList | None]:
    if not rule.prefix_list_id:
        return Derived(None)
    found = model.get("prefix_list", rule.prefix_list_id, rule.account, rule.region)
    if not isinstance(found, PrefixList):
        return Derived(None)
    return Derived(found, own_sources(found))


@derived("security_group_rule", "summary", requires=ec2("DescribeSecurityGroupRules"),
         doc="The rule in one line for messages, e.g. \"sgr-1: ingress tcp 22 from 0.0.0.0/0\" or "
             "\"sgr-2: egress all traffic to ::/0\".")
def _sgr_summary(model: Model, rule: SecurityGroupRule) -> Derived[str]:
    return Derived(rule_summary(rule))


@derived("security_group", "rule_summaries", requires=ec2("DescribeSecurityGroupRules"),
         doc="Each of the group's rules, ingress and egress, in one line (see security_group_rule.summary), "
             "by rule id.")
def _sg_rule_summaries(model: Model, sg: SecurityGroup) -> Derived[tuple[str, ...]]:
    rules = sg_rules(model, sg)
    return Derived(tuple(rule_summary(r) for r in sorted(rules, key=lambda r: r.id)), refs(rules))


# -- network ACLs ----------------------------------------------------------------------

@dataclass(frozen=True)
class InternetIngress:
    """A TCP or UDP port range that a network ACL admits from any address (0.0.0.0/0 or ::/0),
    and the inbound entry that admits it."""

    rule_number: int
    protocol: str        # tcp | udp
    from_port: int
    to_port: int
    cidr: str            # the entry's source, a /0
    summary: str         # e.g. "rule 100 allows tcp 22 from 0.0.0.0/0"


_PORTED = {"6": "tcp", "tcp": "tcp", "17": "udp", "udp": "udp"}
_ALL_PROTOCOLS = frozenset({"-1", "all"})


def _entry_traffic(entry: NaclEntry) -> dict[str, Interval] | None:
    """The TCP/UDP ports an entry matches, by protocol; {} for protocols without ports (ICMP,
    ESP ...), which never reach a TCP or UDP port; None when a TCP/UDP entry has no port range
    (AWS always gives one: the entry is not understood)."""
    protocol = entry.protocol.lower()
    if protocol in _ALL_PROTOCOLS:
        return {"tcp": (0, 65535), "udp": (0, 65535)}
    name = _PORTED.get(protocol)
    if name is None:
        return {}
    if entry.from_port is None or entry.to_port is None or entry.from_port > entry.to_port:
        return None
    return {name: (entry.from_port, entry.to_port)}


def _is_anywhere(cidr: str) -> bool | None:
    """Whether a CIDR matches every address of its family (a /0); None when it is not a CIDR."""
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return None


def internet_ingress(acl: NetworkAcl) -> tuple[InternetIngress, ...] | None:
    """The TCP and UDP ports the ACL's inbound entries admit from anywhere.

    Entries are evaluated as AWS does, lowest rule number first, first match wins, separately
    for IPv4 (CidrBlock) and IPv6 (Ipv6CidrBlock) sources. An entry whose source is a /0
    decides its protocol and ports for every source address: an allow admits those of its
    ports that no lower-numbered /0 entry (allow or deny) has decided already, and a deny
    shadows them for every higher-numbered entry. An entry with a narrower source decides
    nothing for the internet as a whole (a narrow deny leaves other sources admitted; a
    narrow allow is not "from anywhere"), so it is skipped: a narrow deny never makes a /0
    allow pass. Returns None (unknown) when an entry cannot be read (unknown action, a
    source that is not a CIDR, a TCP/UDP entry without a port range)."""
    found: list[InternetIngress] = []
    for family in ("cidr", "ipv6_cidr"):
        entries = sorted((e for e in acl.entries if not e.egress and getattr(e, family) is not None),
                         key=lambda e: e.rule_number)
        decided: dict[str, list[Interval]] = {"tcp": [], "udp": []}
        for entry in entries:
            cidr: str = getattr(entry, family)
            anywhere = _is_anywhere(cidr)
            action = entry.action.lower()
            traffic = _entry_traffic(entry)
            if anywhere is None or traffic is None or action not in ("allow", "deny"):
                return None
            if not anywhere:
                continue
            for protocol, span in sorted(traffic.items()):
                if action == "allow":
                    for lo, hi in minus([span], decided[protocol]):
                        ports = str(lo) if lo == hi else f"{lo}-{hi}"
                        found.append(InternetIngress(
                            entry.rule_number, protocol, lo, hi, cidr,
                            f"rule {entry.rule_number} allows {protocol} {ports} from {cidr}"))
                decided[protocol].append(span)
    return tuple(sorted(found, key=lambda f: (f.rule_number, f.cidr, f.protocol, f.from_port)))


@derived("network_acl", "internet_ingress", requires=ec2("DescribeNetworkAcls"),
         doc="The TCP and UDP port ranges the ACL's inbound entries admit from anywhere (source 0.0.0.0/0 "
             "or ::/0), after rule-number order: a lower-numbered /0 deny (or allow) for the same protocol "
             "and ports shadows an allow; entries with narrower sources are skipped (they decide nothing "
             "for the whole internet); protocol -1 counts as every TCP and UDP port, ICMP and other "
             "protocols as none. Each element has rule_number, protocol (tcp, udp), from_port, to_port, "
             "cidr and summary. Null when an entry cannot be read.")
def _nacl_internet_ingress(model: Model, acl: NetworkAcl) -> Derived[tuple[InternetIngress, ...] | None]:
    return Derived(internet_ingress(acl))


ATTRIBUTES: tuple[DerivedAttribute, ...] = (
    _sgr_peer, _sgr_peer_kind, _sgr_prefix_list, _sgr_summary, _sg_rule_summaries, _nacl_internet_ingress,
)
