"""Derived attributes of the service-exposure and traffic-filtering packs
(auditor/rules/derived/exposure.py): the cases the rule fixtures reach only through a rule's
outcome, and the message helpers no rule condition reads."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.model import build_model
from auditor.model.types import Model, NaclEntry, NetworkAcl, Resource, SourceRef
from auditor.rules.attributes import resolve, to_json
from auditor.rules.derived.exposure import InternetIngress, internet_ingress
from auditor.snapshot.records import CallRecord

A, R = "111111111111", "eu-west-1"


def rec(op: str, page: dict[str, Any], params: dict[str, Any] | None = None) -> CallRecord:
    return CallRecord(A, R, "ec2", op, params or {}, (page,))


def sgr(rid: str, egress: bool, protocol: str, ports: tuple[int, int] | None, **peer: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"SecurityGroupRuleId": rid, "GroupId": "sg-a", "IsEgress": egress, "IpProtocol": protocol,
                            **peer}
    if ports is not None:
        rule.update(FromPort=ports[0], ToPort=ports[1])
    return rule


RECORDS = [
    rec("DescribeSecurityGroups", {"SecurityGroups": [
        {"GroupId": "sg-a", "VpcId": "vpc-a", "GroupName": "default"},
        {"GroupId": "sg-empty", "VpcId": "vpc-a", "GroupName": "empty"}]}),
    rec("DescribeSecurityGroupRules", {"SecurityGroupRules": [
        sgr("sgr-1", False, "tcp", (22, 22), CidrIpv4="0.0.0.0/0"),
        sgr("sgr-2", True, "-1", (-1, -1), CidrIpv6="::/0"),
        sgr("sgr-3", False, "udp", (1000, 2000), PrefixListId="pl-corp"),
        sgr("sgr-4", False, "icmp", (8, -1), ReferencedGroupInfo={"GroupId": "sg-b"}),
        sgr("sgr-5", True, "tcp", (0, 65535), PrefixListId="pl-unseen"),
        sgr("sgr-6", True, "50", None, CidrIpv4="10.0.0.0/8")]}),
    rec("DescribeManagedPrefixLists", {"PrefixLists": [
        {"PrefixListId": "pl-corp", "PrefixListName": "corp", "OwnerId": A, "AddressFamily": "IPv4"}]}),
    rec("GetManagedPrefixListEntries", {"Entries": [{"Cidr": "10.0.0.0/8"}]}, {"PrefixListId": "pl-corp"}),
]


@pytest.fixture(scope="module")
def model() -> Model:
    return build_model(RECORDS)


def value(model: Model, type_name: str, rid: str, path: str) -> Any:
    found = model.get(type_name, rid, A, R)
    assert found is not None, rid
    resolved = resolve(model, found, path)
    assert resolved.missing == (), resolved.missing
    return resolved.value


PEERS = {"sgr-1": ("0.0.0.0/0", "ipv4"), "sgr-2": ("::/0", "ipv6"), "sgr-3": ("pl-corp", "prefix_list"),
         "sgr-4": ("sg-b", "security_group"), "sgr-5": ("pl-unseen", "prefix_list"), "sgr-6": ("10.0.0.0/8", "ipv4")}


@pytest.mark.parametrize("rid", sorted(PEERS))
def test_the_peer_of_a_rule_is_one_known_value(model: Model, rid: str) -> None:
    assert (value(model, "security_group_rule", rid, "peer"), value(model, "security_group_rule", rid, "peer_kind")) \
        == PEERS[rid]


def test_the_prefix_list_of_a_rule(model: Model) -> None:
    assert value(model, "security_group_rule", "sgr-3", "peer_prefix_list.cidrs") == ("10.0.0.0/8",)
    assert value(model, "security_group_rule", "sgr-3", "peer_prefix_list.owner_id") == A
    assert value(model, "security_group_rule", "sgr-5", "peer_prefix_list") is None    # not in the model: unknown
    assert value(model, "security_group_rule", "sgr-1", "peer_prefix_list") is None    # not a prefix-list rule
    rule = model.get("security_group_rule", "sgr-3", A, R)
    assert rule is not None
    sources = resolve(model, rule, "peer_prefix_list.cidrs").sources
    assert any("DescribeManagedPrefixLists" in s.record for s in sources)


def test_a_prefix_list_rule_needs_the_prefix_list_calls() -> None:
    m = build_model(RECORDS[:2])
    rule = m.get("security_group_rule", "sgr-3", A, R)
    assert rule is not None
    assert resolve(m, rule, "peer").missing == ()
    assert resolve(m, rule, "peer_prefix_list.cidrs[*]").missing == (
        "ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries")


SUMMARIES = {"sgr-1": "sgr-1: ingress tcp 22 from 0.0.0.0/0", "sgr-2": "sgr-2: egress all traffic to ::/0",
             "sgr-3": "sgr-3: ingress udp 1000-2000 from pl-corp", "sgr-4": "sgr-4: ingress icmp from sg-b",
             "sgr-5": "sgr-5: egress tcp all ports to pl-unseen", "sgr-6": "sgr-6: egress protocol 50 to 10.0.0.0/8"}


def test_rule_summaries(model: Model) -> None:
    for rid, text in SUMMARIES.items():
        assert value(model, "security_group_rule", rid, "summary") == text
    assert value(model, "security_group", "sg-a", "rule_summaries") == tuple(SUMMARIES[r] for r in sorted(SUMMARIES))
    assert value(model, "security_group", "sg-empty", "rule_summaries") == ()


# -- network ACLs: internet_ingress ----------------------------------------------------------

def acl(*entries: NaclEntry) -> NetworkAcl:
    return NetworkAcl(id="acl-1", account=A, region=R, source=SourceRef("r", "/p"), entries=entries)


def entry(number: int, action: str, protocol: str = "6", ports: tuple[int, int] | None = (22, 22),
          cidr: str | None = "0.0.0.0/0", ipv6: str | None = None, egress: bool = False) -> NaclEntry:
    lo, hi = ports if ports else (None, None)
    return NaclEntry(number, egress, protocol, action, cidr, ipv6, lo, hi)


def spans(found: tuple[InternetIngress, ...] | None) -> list[tuple[int, str, int, int]] | None:
    return None if found is None else [(f.rule_number, f.protocol, f.from_port, f.to_port) for f in found]


def test_an_allow_from_anywhere_is_admitted() -> None:
    assert spans(internet_ingress(acl(entry(100, "allow")))) == [(100, "tcp", 22, 22)]


def test_lower_numbered_entries_from_anywhere_decide_first_whatever_the_listing_order() -> None:
    found = internet_ingress(acl(entry(100, "allow", ports=(0, 65535)), entry(90, "deny", ports=(20, 23)),
                                 entry(95, "allow", ports=(80, 80)), entry(200, "allow", ports=(22, 22))))
    # 20-23 denied by 90; 80 admitted by 95 (so not again by 100); 200 is never reached.
    assert spans(found) == [(95, "tcp", 80, 80), (100, "tcp", 0, 19), (100, "tcp", 24, 79),
                            (100, "tcp", 81, 65535)]


def test_protocol_all_covers_tcp_and_udp_and_icmp_covers_neither() -> None:
    assert spans(internet_ingress(acl(entry(100, "allow", protocol="-1", ports=None)))) == [
        (100, "tcp", 0, 65535), (100, "udp", 0, 65535)]
    assert spans(internet_ingress(acl(entry(90, "deny", protocol="-1", ports=None), entry(100, "allow")))) == []
    assert spans(internet_ingress(acl(entry(90, "deny", protocol="1", ports=None), entry(100, "allow")))) == [
        (100, "tcp", 22, 22)]
    # A UDP deny does not shadow a TCP allow.
    assert spans(internet_ingress(acl(entry(90, "deny", protocol="17"), entry(100, "allow")))) == [
        (100, "tcp", 22, 22)]


def test_narrow_sources_decide_nothing_for_the_internet() -> None:
    found = internet_ingress(acl(entry(90, "deny", cidr="203.0.113.0/24"), entry(95, "allow", cidr="10.0.0.0/8"),
                                 entry(100, "allow")))
    assert spans(found) == [(100, "tcp", 22, 22)]


def test_ipv4_and_ipv6_are_separate_and_egress_is_ignored() -> None:
    found = internet_ingress(acl(entry(90, "deny", protocol="-1", ports=None),
                                 entry(100, "allow", cidr=None, ipv6="::/0"),
                                 entry(100, "allow", egress=True)))
    assert found is not None
    assert [(f.rule_number, f.cidr, f.summary) for f in found] == [(100, "::/0", "rule 100 allows tcp 22 from ::/0")]


def test_unreadable_entries_make_the_answer_unknown() -> None:
    assert internet_ingress(acl(entry(100, "allow", ports=None))) is None          # TCP without a port range
    assert internet_ingress(acl(entry(100, "maybe"))) is None                      # unknown action
    assert internet_ingress(acl(entry(100, "allow", cidr="not-a-cidr"))) is None
    assert internet_ingress(acl()) == ()


def test_internet_ingress_elements_read_as_port_ranges() -> None:
    from auditor.rules.operators import OPERATORS

    found = internet_ingress(acl(entry(100, "allow", ports=(20, 25))))
    assert found is not None
    data = to_json(found[0])
    assert data == {"rule_number": 100, "protocol": "tcp", "from_port": 20, "to_port": 25, "cidr": "0.0.0.0/0",
                    "summary": "rule 100 allows tcp 20-25 from 0.0.0.0/0"}
    assert OPERATORS["ports_overlap"].test(data, [22, 3389])
    assert not OPERATORS["ports_overlap"].test(data, [3389])


def test_internet_ingress_through_the_model() -> None:
    m = build_model([rec("DescribeNetworkAcls", {"NetworkAcls": [{"NetworkAclId": "acl-x", "VpcId": "vpc-a", "Entries": [
        {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0",
         "PortRange": {"From": 3389, "To": 3389}}]}]})])
    found: Resource | None = m.get("network_acl", "acl-x", A, R)
    assert found is not None
    assert resolve(m, found, "internet_ingress[*].summary").value == ("rule 100 allows tcp 3389 from 0.0.0.0/0",)
