"""Which resources are regulated: the VPCs the scope selects, and everything in them.

A resource inherits the scope of its VPC. Resources that belong to no VPC (a Lambda
function outside any VPC, the region's Block Public Access settings, prefix lists) are in
scope when their account and region hold at least one in-scope VPC: they can expose that
account's regulated workloads. With an empty scope, everything collected is in scope.
"""

from __future__ import annotations

from typing import Any

from auditor.config import Scope
from auditor.model.types import Model, Resource

# How to find the VPC(s) of each resource type, when it has no `vpc_id` field of its own.
_VPC_FIELDS = ("vpc_id",)


def vpcs_of(model: Model, resource: Resource) -> tuple[str, ...] | None:
    """The VPC ids a resource belongs to; None when it belongs to no VPC."""
    value: Any = getattr(resource, "vpc_id", None)
    if value:
        return (str(value),)
    attached = getattr(resource, "attached_vpc_ids", None)
    if attached:
        return tuple(attached)
    type_name = resource.type_name
    if type_name == "vpc":
        return (resource.id,)
    if type_name == "security_group_rule":
        group = model.get("security_group", getattr(resource, "group_id", ""), resource.account, resource.region)
        return vpcs_of(model, group) if group is not None else None
    if type_name == "flow_log":
        target = getattr(resource, "resource_id", "")
        for kind in ("vpc", "subnet", "network_interface"):
            found = model.get(kind, target, resource.account, resource.region)
            if found is not None:
                return vpcs_of(model, found)
        return None
    if type_name == "elastic_ip":
        for kind, key in (("instance", "instance_id"), ("network_interface", "network_interface_id")):
            ref = getattr(resource, key, None)
            found = model.get(kind, ref, resource.account, resource.region) if ref else None
            if found is not None:
                return vpcs_of(model, found)
        return None
    if type_name == "vpc_peering":
        sides = [getattr(resource, side) for side in ("requester", "accepter")]
        return tuple(s.vpc_id for s in sides if s is not None) or None
    if type_name == "transit_gateway_attachment":
        return (resource.resource_id,) if getattr(resource, "resource_type", "") == "vpc" else None  # type: ignore[attr-defined]
    return None


# Resources placed in a VPC through another resource: the field naming it, and the types (and
# the calls listing them) it may be, by id prefix.
_PLACED_BY: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "security_group_rule": (("group_id", "", "security_group", "ec2:DescribeSecurityGroups"),),
    "flow_log": (("resource_id", "vpc-", "vpc", "ec2:DescribeVpcs"),
                 ("resource_id", "subnet-", "subnet", "ec2:DescribeSubnets"),
                 ("resource_id", "eni-", "network_interface", "ec2:DescribeNetworkInterfaces")),
    "elastic_ip": (("instance_id", "", "instance", "ec2:DescribeInstances"),
                   ("network_interface_id", "", "network_interface", "ec2:DescribeNetworkInterfaces")),
}


def placement_unknown(model: Model, resource: Resource) -> str | None:
    """Why the VPC of a resource cannot be told: what places it (a security group rule's
    group, a flow log's VPC, subnet or interface, an Elastic IP's instance or interface) is
    named but not in the model. None when it can be told, or when it belongs to no VPC."""
    named = [(ref, type_name, call) for field, prefix, type_name, call in _PLACED_BY.get(resource.type_name, ())
             for ref in (str(getattr(resource, field, None) or ""),)
             if (ref or field == "group_id") and ref.startswith(prefix)]
    if not named or vpcs_of(model, resource) is not None:
        return None
    for ref, type_name, call in named:
        if model.get(type_name, ref, resource.account, resource.region) is None:
            return f"its {type_name.replace('_', ' ')} {ref or '(none)'} is not in the model ({call})"
    return None


class ScopeIndex:
    """Answers `in_scope(resource)` for one model and one scope, computed once."""

    def __init__(self, model: Model, scope: Scope):
        self.model = model
        self.scope = scope
        self.vpcs = {(v.account, v.region, v.id) for v in model.of("vpc") if scope.selects(v.id, v.tag_map)}
        self.regions = {(a, r) for a, r, _ in self.vpcs}

    def undecided(self, resource: Resource) -> str | None:
        """Why a resource's scope cannot be decided (a scope that selects VPCs, and the
        resource's VPC is unknown because what places it is missing), else None. Such a
        resource is never PASS: it could belong to a VPC out of scope."""
        if self.scope.everything or resource.type_name not in _PLACED_BY:   # the engine asks per finding: fast
            return None
        return placement_unknown(self.model, resource)

    def in_scope(self, resource: Resource) -> bool:
        if self.scope.everything:
            return True
        vpcs = vpcs_of(self.model, resource)
        if vpcs is None:
            return (resource.account, resource.region) in self.regions
        return any((resource.account, resource.region, v) in self.vpcs for v in vpcs)
