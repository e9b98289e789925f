"""Plans and templates as a model source: the contract the readers share.

A Terraform plan (``terraform show -json``) or a CloudFormation template is read into the
same thing a collection gives: call records holding AWS's own response shapes (``Vpcs``,
``Subnets``, ``RouteTables`` ...), one listing record per covered call and account-region.
The model (`auditor.model.build.build_model`), the analyzers, the packs, waivers, findings
and reports then run unchanged; nothing downstream tells the sources apart except by what
the records say of themselves:

- every page written here carries ``PLAN_PAGE: true``, and every item ``ITEM_SOURCE``: where
  the plan or template declares it (file, address, line, the line of each model field) and
  which model fields are known only after deploy, with why (`auditor.model.build`);
- a value known only after deploy is *unknown* in the model, so every rule reading it is
  ERROR with the attribute named, exactly as for data a collection could not read;
- an id the plan leaves unknown and no reference resolves is `unknown_id` (the AWS prefix
  kept, so a route's target kind is still known, and the analyzers find no such resource:
  unknown, never "no path");
- resources the plan creates get ids made from their address (`synthetic_id`):
  ``subnet-aws_subnet.app["a"]``, ``vpc-MainVpc`` (a template's logical id).

The readers (`auditor.iac.terraform`, `auditor.iac.cloudformation`) fill a `RecordBuilder`
and return a `PlanSource`; `auditor.iac.overlay` lays one over a collected snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from collections.abc import Iterable, Mapping

from auditor.errors import AuditorError
from auditor.model.build import ITEM_SOURCE, PLAN_PAGE
from auditor.model.registry import CATALOG
from auditor.snapshot.records import CallError, CallRecord

__all__ = ["PLAN_PAGE", "ITEM_SOURCE", "KINDS", "KIND_NAMES", "COVERED", "NOT_COVERED", "IacError", "Declared", "Unsupported",
           "SourceProblem", "PlanSource", "RecordBuilder", "synthetic_id", "unknown_id", "UNKNOWN_MARK",
           "DEFAULT_ACCOUNT", "network_relevant"]

Call = tuple[str, str]

KINDS = ("terraform-plan", "cloudformation")
KIND_NAMES: Mapping[str, str] = MappingProxyType({"terraform-plan": "Terraform plan",
                                                  "cloudformation": "CloudFormation template"})

# The catalogue calls a plan or template answers for each account-region it touches: what it
# declares of their resources is all there is (an empty listing says "none": the plan is the
# estate, or, overlaid on a snapshot, what changes in it). The others (NOT_COVERED) are
# account settings and AWS-owned data no plan declares: without a snapshot underneath, the
# rules needing them are ERROR ("not collected"), never PASS.
NOT_COVERED: frozenset[Call] = frozenset({
    ("ec2", "DescribeVpcEndpointServices"),          # AWS's service catalogue, not the plan's
    ("ec2", "DescribeVpcBlockPublicAccessOptions"),  # an account setting: absent from a plan is not "off"
    ("ec2", "DescribeVpcBlockPublicAccessExclusions"),
    ("lambda", "ListFunctions"),                     # functions are not modelled from plans (listed as unsupported)
})
COVERED: tuple[Call, ...] = tuple(s.call for s in CATALOG if s.call not in NOT_COVERED)

UNKNOWN_MARK = "(known after apply"


class IacError(AuditorError):
    """A file that is not a plan or template this tool reads (not JSON or YAML, not a plan,
    a plan of an unsupported format_version, a template without Resources ...): the message
    names the file and what is wrong; nothing is evaluated (exit 2)."""


@dataclass(frozen=True)
class Declared:
    """A resource of the plan or template that is modelled, and what the plan does to it."""

    address: str          # module.net.aws_subnet.app["a"] | a template's logical id
    type: str             # aws_subnet | AWS::EC2::Subnet
    model_type: str       # the model's resource type: subnet
    id: str               # its id in the model (synthetic for created resources, else AWS's)
    action: str           # create | update | replace | delete | no-op | read
    file: str
    line: int | None = None


@dataclass(frozen=True)
class Unsupported:
    """A resource of a type the readers do not model: listed in every output, never ignored."""

    address: str
    type: str
    action: str
    file: str
    line: int | None = None


@dataclass(frozen=True)
class SourceProblem:
    """Something in the plan or template that could not be read for one resource (an unknown
    intrinsic function, a reference to nothing, an attribute of an odd shape ...). The values
    it concerns are unknown in the model, so the rules reading them are ERROR; the problem
    itself is listed in every output."""

    address: str
    message: str
    file: str
    line: int | None = None


@dataclass(frozen=True)
class PlanSource:
    """What reading one plan or template gives."""

    kind: str                             # one of KINDS
    file: str                             # as given on the command line (shown in every output)
    sha256: str                           # "sha256:<hex>" of the file's bytes
    format_version: str                   # the plan's format_version, the template's AWSTemplateFormatVersion or ""
    account: str
    regions: tuple[str, ...]
    records: tuple[CallRecord, ...]
    resources: tuple[Declared, ...] = ()
    unsupported: tuple[Unsupported, ...] = ()
    problems: tuple[SourceProblem, ...] = ()
    # (account, region, model type, AWS id) of deployed resources the plan deletes or replaces,
    # or updates: an overlay drops them from the snapshot (updated ones come back from the plan).
    replaces: tuple[tuple[str, str, str, str], ...] = ()
    notes: tuple[str, ...] = ()           # what the reader assumed (defaults AWS documents, the account used ...)


def synthetic_id(prefix: str, address: str) -> str:
    """The model id of a resource the plan creates: AWS's prefix for its type and its address
    (``subnet-aws_subnet.app["a"]``); `prefix` "" for types named by name (EKS, RDS)."""
    return f"{prefix}-{address}" if prefix else address


def unknown_id(prefix: str, what: str) -> str:
    """An id the plan leaves unknown and no reference resolves (`what`: the attribute, e.g.
    ``aws_route.out.nat_gateway_id``). The prefix keeps the target kind known; no resource
    has this id, so every analysis reaching it says unknown."""
    text = f"{UNKNOWN_MARK}: {what})"
    return f"{prefix}-{text}" if prefix else text


# The key naming each per-resource call's resource in its parameters, for the error record
# written when a reader gives no answer for one (`RecordBuilder.records`).
_SPECS = {s.call: s for s in CATALOG}


def _params_key(params: Mapping[str, Any]) -> str:
    return "|".join(f"{k}={params[k]}" for k in sorted(params))


@dataclass
class _Listing:
    items: list[dict[str, Any]] = field(default_factory=list)


class RecordBuilder:
    """Collects what a reader declares, as AWS would answer the covered calls.

    `add` one item of a listing call (``("ec2", "DescribeSubnets")``, ``"Subnets"``, the item
    as DescribeSubnets returns it) with where it is declared and which model fields of it are
    unknown; `add_call` one answer of a per-resource call (DescribeVpcAttribute per VPC,
    SearchTransitGatewayRoutes per transit gateway route table ...). `records` makes the call
    records of every covered call in every region given."""

    def __init__(self, kind: str, file: str, account: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        self.kind, self.file, self.account = kind, file, account
        self._listings: dict[tuple[str, Call], _Listing] = {}
        self._calls: dict[tuple[str, Call, str], tuple[dict[str, Any], dict[str, Any]]] = {}

    def add(self, region: str, call: Call, item: Mapping[str, Any], *, address: str, line: int | None = None,
            attributes: Mapping[str, int] | None = None, unknown: Mapping[str, str] | None = None,
            quiet: Iterable[str] = ()) -> None:
        """One item of a covered listing call, as AWS returns it (DescribeInstances: the
        instance, put into a reservation here; eks DescribeCluster: the cluster, listed by
        ListClusters here). `attributes`: model field -> line; `unknown`: model field -> why
        it is unknown before deploy (say which attribute: "known after apply:
        aws_subnet.app.availability_zone"); `quiet`: those of `unknown` the reader believes
        no analyzer reads (kept as `UnknownField.propagates`; which derived values a field
        reaches is `auditor.rules.derive.NARROW_FIELDS`' word, and tests/test_iac_base.py
        checks the two agree)."""
        per_resource = call in _SPECS and _SPECS[call].for_each is not None and call != ("eks", "DescribeCluster")
        if call not in COVERED or call not in _SPECS or per_resource:
            raise ValueError(f"{call} is not a covered listing call")
        body = dict(item)
        body[ITEM_SOURCE] = {"kind": self.kind, "file": self.file, "address": address, "line": line,
                             "attributes": dict(sorted((attributes or {}).items())),
                             "unknown": dict(sorted((unknown or {}).items())), "quiet": sorted(set(quiet))}
        if call == ("eks", "DescribeCluster"):
            name = str(item.get("name", ""))
            self._listings.setdefault((region, ("eks", "ListClusters")), _Listing()).items.append(
                {"name": name})
            self._calls[(region, call, _params_key({"name": name}))] = ({"name": name}, {"cluster": body})
            return
        if call == ("ec2", "DescribeInstances"):
            body = {"Instances": [body], "OwnerId": self.account, "ReservationId": f"r-{address}"}
        self._listings.setdefault((region, call), _Listing()).items.append(body)

    def add_call(self, region: str, call: Call, params: Mapping[str, Any], page: Mapping[str, Any]) -> None:
        """The answer of one per-resource call: its parameters as the collector sends them
        (the catalogue's `make_params` of the listed item) and its one page."""
        spec = _SPECS.get(call)
        if spec is None or spec.for_each is None or call not in COVERED:
            raise ValueError(f"{call} is not a covered per-resource call")
        self._calls[(region, call, _params_key(params))] = (dict(params), {**page, PLAN_PAGE: True})

    def records(self, regions: Iterable[str]) -> tuple[CallRecord, ...]:
        """The records of every covered call in each region of `regions` (an empty listing
        says the plan declares none), plus the per-resource answers added. A per-resource call
        the reader gave no answer for, for an item it listed, is recorded as failed for that
        item: what it would tell is unknown (ERROR), never assumed."""
        out: list[CallRecord] = []
        for region in sorted(set(regions)):
            for call in COVERED:
                spec = _SPECS[call]
                if spec.for_each is not None:
                    continue
                listed = self._listings.get((region, call), _Listing()).items
                if call == ("eks", "ListClusters"):
                    page: dict[str, Any] = {spec.items_key: [i["name"] for i in listed], PLAN_PAGE: True}
                else:
                    page = {spec.items_key: list(listed), PLAN_PAGE: True}
                out.append(CallRecord(self.account, region, call[0], call[1], {}, (page,)))
            for call in COVERED:
                spec = _SPECS[call]
                if spec.for_each is None:
                    continue
                source = (call[0], spec.for_each.source)
                listed = self._listings.get((region, source), _Listing()).items
                if source == ("eks", "ListClusters"):
                    wanted = [{"name": i["name"]} for i in listed]
                else:
                    wanted = [dict(p) for item in listed for p in spec.for_each.make_params(item)]
                for params in wanted:
                    key = _params_key(params)
                    found = self._calls.get((region, call, key))
                    if found is not None:
                        p, answer = found
                        out.append(CallRecord(self.account, region, call[0], call[1], p,
                                              (answer if PLAN_PAGE in answer else {**answer, PLAN_PAGE: True},)))
                    else:
                        out.append(CallRecord(self.account, region, call[0], call[1], params, (), CallError(
                            "not_attempted", "NotInPlan",
                            f"the {self.kind} does not say what {call[1]} answers for {key}")))
        return tuple(out)


# The account a plan or template is evaluated in when neither it nor the command line says
# (a plan rarely names its account): shown in every output, with a note saying so.
DEFAULT_ACCOUNT = "000000000000"

# Types whose resources change the network: one of these that the readers do not model leaves
# the network the plan builds not fully known, so the assessment is incomplete (a gap, exit 3),
# not merely listed. Other unsupported types (buckets, roles, queues ...) are listed only.
_NETWORK_PREFIXES = (
    "aws_vpc", "aws_subnet", "aws_route", "aws_default_", "aws_internet_gateway", "aws_egress_only_internet_gateway",
    "aws_nat_gateway", "aws_eip", "aws_ec2_", "aws_network_", "aws_security_group", "aws_vpn_", "aws_customer_gateway",
    "aws_dx_", "aws_networkfirewall_", "aws_lb", "aws_alb", "aws_elb", "aws_eks_", "aws_db_", "aws_rds_",
    "aws_instance", "aws_spot_instance", "aws_globalaccelerator_", "aws_networkmanager_", "aws_vpclattice_",
    "AWS::EC2::", "AWS::ElasticLoadBalancing", "AWS::EKS::", "AWS::RDS::", "AWS::NetworkFirewall::",
    "AWS::DirectConnect::", "AWS::GlobalAccelerator::", "AWS::NetworkManager::", "AWS::VpcLattice::",
)
_NOT_NETWORK = ("aws_route53_", "aws_db_parameter_group", "aws_db_option_group", "aws_rds_cluster_parameter_group",
                "aws_ec2_tag", "aws_ec2_instance_state", "aws_eks_addon", "aws_eks_access_", "aws_eks_pod_identity_",
                "aws_ec2_image_block_public_access", "AWS::EC2::KeyPair", "AWS::EC2::Volume",
                "AWS::EC2::VolumeAttachment", "AWS::EC2::LaunchTemplate", "AWS::RDS::DBParameterGroup",
                "AWS::RDS::DBClusterParameterGroup", "AWS::RDS::OptionGroup", "AWS::EKS::Addon",
                "AWS::EKS::AccessEntry", "AWS::EKS::PodIdentityAssociation")


def network_relevant(type_name: str) -> bool:
    """Whether a resource type (Terraform or CloudFormation) changes the network, so that
    not modelling it leaves the assessment incomplete."""
    return type_name.startswith(_NETWORK_PREFIXES) and not type_name.startswith(_NOT_NETWORK)
