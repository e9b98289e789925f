"""Emulator extensions to moto: APIs the estate needs that moto 5.2 lacks or gets wrong.

This is test/demo infrastructure only. Nothing here is used against real AWS.

1. **VPC Block Public Access (BPA).** moto 5.2 raises NotImplementedError for
   DescribeVpcBlockPublicAccessOptions and DescribeVpcBlockPublicAccessExclusions, which
   the collector calls in every region. We add those two reads plus the two writes the
   seeder needs to set the state through the API like any other resource
   (ModifyVpcBlockPublicAccessOptions, CreateVpcBlockPublicAccessExclusion). State lives
   on moto's per-(account, region) EC2 backend object, so moto's reset (on leaving
   ``mock_aws`` or ``/moto-api/reset``) discards it with everything else. Until seeded,
   an account reads as one that never turned BPA on: mode ``off``, state
   ``default-state``, exclusions ``allowed``. Field names follow botocore's
   ``VpcBlockPublicAccessOptions`` and ``VpcBlockPublicAccessExclusion`` shapes.

2. **SearchTransitGatewayRoutes attachments.** moto stores a static route's target as one
   mapping under ``transitGatewayAttachments`` where the API has a list, so the
   serializer drops it and every route reads back with no attachment. We wrap moto's
   response to hand the serializer a one-item list; the stored data is not changed.

3. **DeleteVpc and the default network ACL.** AWS deletes a VPC's default network ACL
   with the VPC; moto leaves it behind (still associated with the deleted subnets), so
   after the seeder removes moto's default VPC the collector would report an ACL of a
   VPC that does not exist. We wrap moto's DeleteVpc to remove it too, after moto has
   accepted the deletion.

`install()` adds all of these to moto's EC2 response class and `uninstall()` takes them
away again. Both are explicit (EmulatedAws calls them on entry and exit) and idempotent.
In server mode the ThreadedMotoServer runs in this process and dispatches to the same
class, so one install covers both modes. If a later moto implements an action natively, moto's own
implementation is kept and ours is not installed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response
from moto.ec2.responses.transit_gateway_route_tables import TransitGatewayRouteTable
from moto.ec2.responses.vpcs import VPCs
from moto.ec2.utils import add_tag_specification, random_id

_STATE_ATTR = "_auditor_emulator_bpa"  # attribute on a moto EC2 backend object
_MARK = "_auditor_emulator_extension"  # set on every function we install
_install_lock = threading.Lock()


@dataclass
class BpaState:
    """One (account, region)'s Block Public Access state, as AWS reports it."""

    account_id: str
    region: str
    mode: str = "off"
    state: str = "default-state"
    updated: dt.datetime | None = None
    exclusions: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {"AwsAccountId": self.account_id, "AwsRegion": self.region,
                               "State": self.state, "InternetGatewayBlockMode": self.mode,
                               "ManagedBy": "account", "ExclusionsAllowed": "allowed"}
        if self.updated is not None:
            out["LastUpdateTimestamp"] = self.updated
        return out


def bpa_state(backend: Any) -> BpaState:
    """The BPA state kept on a moto EC2 backend, created on first use."""
    found = getattr(backend, _STATE_ATTR, None)
    if found is None:
        # dict.setdefault is atomic, so two server threads cannot create two states.
        found = backend.__dict__.setdefault(_STATE_ATTR, BpaState(backend.account_id, backend.region_name))
    return found


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


# -- the EC2 actions (methods of moto's EC2Response once installed) ----------------------

def describe_vpc_block_public_access_options(self: Any) -> ActionResult:
    """DescribeVpcBlockPublicAccessOptions for the caller's account and region."""
    return ActionResult({"VpcBlockPublicAccessOptions": bpa_state(self.ec2_backend).options()})


def modify_vpc_block_public_access_options(self: Any) -> ActionResult:
    """ModifyVpcBlockPublicAccessOptions: set InternetGatewayBlockMode (used by the seeder)."""
    mode = self._get_param("InternetGatewayBlockMode")
    if mode not in ("off", "block-bidirectional", "block-ingress"):
        raise EC2ClientError("InvalidParameterValue", f"Invalid InternetGatewayBlockMode: {mode}")
    state = bpa_state(self.ec2_backend)
    with state.lock:
        # Real AWS passes through update-in-progress; the emulator settles at once.
        state.mode, state.state, state.updated = mode, "update-complete", _now()
        return ActionResult({"VpcBlockPublicAccessOptions": state.options()})


def create_vpc_block_public_access_exclusion(self: Any) -> ActionResult:
    """CreateVpcBlockPublicAccessExclusion for one VPC or one subnet of this region."""
    vpc_id, subnet_id = self._get_param("VpcId"), self._get_param("SubnetId")
    mode = self._get_param("InternetGatewayExclusionMode")
    if bool(vpc_id) == bool(subnet_id):
        raise EC2ClientError("InvalidParameterCombination", "Specify exactly one of VpcId and SubnetId")
    if mode not in ("allow-bidirectional", "allow-egress"):
        raise EC2ClientError("InvalidParameterValue", f"Invalid InternetGatewayExclusionMode: {mode}")
    backend = self.ec2_backend
    if vpc_id:
        backend.get_vpc(vpc_id)  # raises moto's own NotFound error
        resource = f"vpc/{vpc_id}"
    else:
        backend.get_subnet(subnet_id)
        resource = f"subnet/{subnet_id}"
    tags = add_tag_specification(self._get_param("TagSpecifications", []))
    now = _now()
    exclusion = {
        "ExclusionId": random_id(prefix="vpcbpa-exclude", size=17),
        "InternetGatewayExclusionMode": mode,
        "ResourceArn": f"arn:aws:ec2:{backend.region_name}:{backend.account_id}:{resource}",
        "State": "create-complete",
        "CreationTimestamp": now,
        "LastUpdateTimestamp": now,
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    state = bpa_state(backend)
    with state.lock:
        state.exclusions[exclusion["ExclusionId"]] = exclusion
    return ActionResult({"VpcBlockPublicAccessExclusion": exclusion})


_EXCLUSION_FILTERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "state": lambda e: [e["State"]],
    "resource-arn": lambda e: [e["ResourceArn"]],
    "internet-gateway-exclusion-mode": lambda e: [e["InternetGatewayExclusionMode"]],
    "tag-key": lambda e: [t["Key"] for t in e["Tags"]],
}


def describe_vpc_block_public_access_exclusions(self: Any) -> ActionResult:
    """DescribeVpcBlockPublicAccessExclusions with ExclusionIds and the common filters.

    Everything fits one page (emulated estates are small), so NextToken is never set.
    """
    state = bpa_state(self.ec2_backend)
    wanted = set(self._get_param("ExclusionIds", []) or [])
    filters = self._filters_from_querystring()
    with state.lock:
        found = list(state.exclusions.values())
    if wanted:
        unknown = wanted - {e["ExclusionId"] for e in found}
        if unknown:
            raise EC2ClientError("InvalidVpcBlockPublicAccessExclusionId.NotFound",
                                 f"The exclusion ID '{sorted(unknown)[0]}' does not exist")
        found = [e for e in found if e["ExclusionId"] in wanted]
    for name, values in filters.items():
        if name.startswith("tag:"):
            key = name[4:]
            found = [e for e in found if any(t["Key"] == key and t["Value"] in values for t in e["Tags"])]
        elif name in _EXCLUSION_FILTERS:
            found = [e for e in found if set(_EXCLUSION_FILTERS[name](e)) & set(values)]
        else:
            raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
    return ActionResult({"VpcBlockPublicAccessExclusions": found})


def search_transit_gateway_routes(self: Any) -> ActionResult:
    """moto's SearchTransitGatewayRoutes with each route's attachment given as a list."""
    original = TransitGatewayRouteTable.search_transit_gateway_routes(self)
    result = dict(original.result)  # type: ignore[call-overload]
    routes = []
    for route in result.get("routeSet", []):
        attachment = route.get("transitGatewayAttachments")
        if isinstance(attachment, dict):
            route = dict(route, transitGatewayAttachments=[attachment])
        routes.append(route)
    result["routeSet"] = routes
    return ActionResult(result)


def delete_vpc(self: Any) -> Any:
    """moto's DeleteVpc, then removal of the VPC's default network ACL as AWS does."""
    vpc_id = self._get_param("VpcId")
    result = VPCs.delete_vpc(self)
    acls = self.ec2_backend.network_acls
    for acl_id in [a.id for a in list(acls.values()) if a.vpc_id == vpc_id and str(a.default).lower() == "true"]:
        acls.pop(acl_id, None)
    return result


_ADDED = (describe_vpc_block_public_access_options, modify_vpc_block_public_access_options,
          create_vpc_block_public_access_exclusion, describe_vpc_block_public_access_exclusions)
_REPLACED = (search_transit_gateway_routes, delete_vpc)


def install() -> None:
    """Add the emulator's EC2 actions to moto (idempotent; moto's own actions win)."""
    with _install_lock:
        for fn in itertools.chain(_ADDED, _REPLACED):
            setattr(fn, _MARK, True)
            current = getattr(EC2Response, fn.__name__, None)
            if current is not None and getattr(current, _MARK, False):
                continue  # already installed
            if fn in _ADDED and current is not None:
                continue  # moto implements it now: keep moto's version
            # Set on EC2Response itself: moto's originals live on its mixin classes, so
            # deleting ours again (uninstall) brings them back untouched.
            setattr(EC2Response, fn.__name__, fn)


def uninstall() -> None:
    """Remove what `install` added, leaving moto exactly as shipped (idempotent).

    EmulatedAws calls this on exit, so plain ``mock_aws`` users in the same process (other
    tests) see moto's own behaviour, whatever ran before them.
    """
    with _install_lock:
        for fn in itertools.chain(_ADDED, _REPLACED):
            if getattr(EC2Response.__dict__.get(fn.__name__), _MARK, False):
                delattr(EC2Response, fn.__name__)


def installed() -> bool:
    """True when every extension is in place (for tests and diagnostics)."""
    return all(getattr(getattr(EC2Response, fn.__name__, None), _MARK, False)
               for fn in itertools.chain(_ADDED, _REPLACED))
