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

4. **VPC route state.** AWS reports a route whose target is gone (a deleted NAT gateway,
   a terminated instance, a deleted network interface) with ``State: blackhole``; moto
   reports every route ``active``. We replace moto's ``Route.state`` (a property of its
   route model, read when DescribeRouteTables is serialized) with one that looks at the
   target as AWS does. Nothing stored changes.

5. **Transit gateway route table associations.** moto associates every new VPC
   attachment with the transit gateway's default route table even when the gateway was
   created with ``DefaultRouteTableAssociation: disable``, and AssociateTransitGatewayRouteTable
   then adds a second association without moving the attachment's own ``Association``:
   the attachment would read as associated with the (empty) default table while another
   table lists it too. AWS associates a new attachment only when default association is
   on, refuses a second association (``Resource.AlreadyAssociated``), and reports the
   table it was associated with. We wrap CreateTransitGatewayVpcAttachment and
   CreateVpnConnection (whose VPN attachment moto makes the same way) to undo the automatic
   association when the gateway turned it off, and Associate/Disassociate to keep the
   attachment's association in step, refusing a second one as AWS does.

6. **A new network ACL's closing rules.** AWS gives every network ACL it creates the
   rule ``*`` (number 32767) that denies all traffic, inbound and outbound; moto adds
   those entries to a VPC's default ACL only, so a custom ACL read back with nothing but
   the estate's rules. We wrap CreateNetworkAcl to add them (IPv4, as moto's default ACL
   has them).

7. **moto's request routers built on one thread.** moto routes a REST request (EKS,
   Lambda) with werkzeug rules that it builds on first use per service (an unlocked
   cache), and werkzeug builds each rule's URL builder with Python's `ast` module. On
   CPython 3.11, two threads building `ast` objects at once can fail with ``SystemError:
   AST constructor recursion depth mismatch`` (the depth counter is shared by the
   interpreter, not kept per thread); the collector's concurrent calls did that once in a
   test (lambda:ListFunctions recorded as an error). `install()` builds the routers of the
   catalogue's REST services first, on the calling thread, so no request builds one later.

`install()` adds all of these to moto (the EC2 response class, and for 4 the route model)
and `uninstall()` takes them away again. Both are explicit (EmulatedAws calls them on
entry and exit) and idempotent.
In server mode the ThreadedMotoServer runs in this process and dispatches to the same
class, so one install covers both modes. If a later moto implements an action natively, moto's own
implementation is kept and ours is not installed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.route_tables import Route as MotoRoute
from moto.ec2.responses import EC2Response
from moto.ec2.responses.network_acls import NetworkACLs
from moto.ec2.responses.transit_gateway_attachments import TransitGatewayAttachment as TgwAttachmentActions
from moto.ec2.responses.transit_gateway_route_tables import TransitGatewayRouteTable
from moto.ec2.responses.vpcs import VPCs
from moto.ec2.responses.vpn_connections import VPNConnections
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
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


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


def _undo_default_association(backend: Any, attachment: Any) -> None:
    """Take back moto's automatic association when the gateway has default association off."""
    tgw = backend.transit_gateways.get(attachment.transit_gateway_id)
    if tgw is None or tgw.options.get("DefaultRouteTableAssociation") != "disable":
        return
    table = attachment.transit_gateway_route_table
    if table is not None:
        table.route_table_associations.pop(attachment.id, None)
    attachment.transit_gateway_route_table = None


def create_transit_gateway_vpc_attachment(self: Any) -> ActionResult:
    """moto's CreateTransitGatewayVpcAttachment, associated only if the gateway says so."""
    result = TgwAttachmentActions.create_transit_gateway_vpc_attachment(self)
    _undo_default_association(self.ec2_backend, result.result["TransitGatewayVpcAttachment"])  # type: ignore[index]
    return result


def create_vpn_connection(self: Any) -> ActionResult:
    """moto's CreateVpnConnection; its transit gateway attachment as for VPC attachments."""
    result = VPNConnections.create_vpn_connection(self)
    vpn_id = result.result["VpnConnection"].id  # type: ignore[index]
    backend = self.ec2_backend
    for attachment in list(backend.transit_gateway_attachments.values()):
        if attachment.resource_type == "vpn" and attachment.resource_id == vpn_id:
            _undo_default_association(backend, attachment)
    return result


def associate_transit_gateway_route_table(self: Any) -> ActionResult:
    """moto's AssociateTransitGatewayRouteTable, recorded on the attachment; a second
    association is refused as AWS refuses it."""
    backend = self.ec2_backend
    attachment_id = self._get_param("TransitGatewayAttachmentId")
    attachment = backend.transit_gateway_attachments.get(attachment_id)
    if attachment is not None and attachment.transit_gateway_route_table is not None:
        raise EC2ClientError("Resource.AlreadyAssociated",
                             f"Transit Gateway Attachment {attachment_id} is already associated to a route table.")
    result = TgwAttachmentActions.associate_transit_gateway_route_table(self)
    backend.transit_gateway_attachments[attachment_id].transit_gateway_route_table = \
        backend.transit_gateways_route_tables[self._get_param("TransitGatewayRouteTableId")]
    return result


def disassociate_transit_gateway_route_table(self: Any) -> ActionResult:
    """moto's DisassociateTransitGatewayRouteTable, recorded on the attachment."""
    result = TgwAttachmentActions.disassociate_transit_gateway_route_table(self)
    self.ec2_backend.transit_gateway_attachments[self._get_param("TransitGatewayAttachmentId")] \
        .transit_gateway_route_table = None
    return result


def create_network_acl(self: Any) -> ActionResult:
    """moto's CreateNetworkAcl, with AWS's closing deny-all rules (number 32767) in both directions."""
    result = NetworkACLs.create_network_acl(self)
    acl_id = result.result["NetworkAcl"].id  # type: ignore[index]
    for egress in (True, False):
        self.ec2_backend.create_network_acl_entry(
            network_acl_id=acl_id, rule_number=32767, protocol="-1", rule_action="deny", egress=egress,
            cidr_block="0.0.0.0/0", icmp_code=None, icmp_type=None, port_range_from=None, port_range_to=None,
            ipv6_cidr_block=None)
    return result


_GONE_NAT = frozenset({"deleting", "deleted", "failed"})
_GONE_INSTANCE = frozenset({"shutting-down", "terminated"})


def route_state(route: Any) -> str:
    """A VPC route's State as AWS reports it: ``blackhole`` when the target is gone."""
    if route.nat_gateway is not None and route.nat_gateway.state in _GONE_NAT:
        return "blackhole"
    if route.instance is not None and route.instance.state in _GONE_INSTANCE:
        return "blackhole"
    if route.interface is not None and route.interface.id not in route.route_table.ec2_backend.enis:
        return "blackhole"
    return "active"


_ROUTE_STATE = property(route_state)  # installed when MotoRoute.state is this very object
_MOTO_ROUTE_STATE = MotoRoute.__dict__["state"]  # moto's own property, put back by uninstall


_ADDED = (describe_vpc_block_public_access_options, modify_vpc_block_public_access_options,
          create_vpc_block_public_access_exclusion, describe_vpc_block_public_access_exclusions)
_REPLACED = (search_transit_gateway_routes, delete_vpc, create_transit_gateway_vpc_attachment, create_vpn_connection,
             associate_transit_gateway_route_table, disassociate_transit_gateway_route_table, create_network_acl)


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
        setattr(MotoRoute, "state", _ROUTE_STATE)  # noqa: B010 (mypy: a method cannot be assigned to)
        _build_rest_routers()


def _build_rest_routers() -> None:
    """Build moto's routers of the catalogue's REST services on this thread (extension 7)."""
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    from auditor.collect.catalog import regional_calls

    for service in sorted({spec.service for spec in regional_calls()}):
        protocol = get_service_model(service).protocol
        if protocol.startswith("rest-"):
            get_service_router(service)._get_router(protocol)  # noqa: SLF001 - moto builds it lazily, unlocked


def uninstall() -> None:
    """Remove what `install` added, leaving moto exactly as shipped (idempotent).

    EmulatedAws calls this on exit, so plain ``mock_aws`` users in the same process (other
    tests) see moto's own behaviour, whatever ran before them.
    """
    with _install_lock:
        for fn in itertools.chain(_ADDED, _REPLACED):
            if getattr(EC2Response.__dict__.get(fn.__name__), _MARK, False):
                delattr(EC2Response, fn.__name__)
        setattr(MotoRoute, "state", _MOTO_ROUTE_STATE)  # noqa: B010 (mypy: a method cannot be assigned to)


def installed() -> bool:
    """True when every extension is in place (for tests and diagnostics)."""
    return MotoRoute.__dict__["state"] is _ROUTE_STATE and all(
        getattr(getattr(EC2Response, fn.__name__, None), _MARK, False) for fn in itertools.chain(_ADDED, _REPLACED))
