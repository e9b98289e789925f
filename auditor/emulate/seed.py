"""Build an `Estate` inside the emulator with ordinary boto3 calls, and say what got which id.

`seed(estate, emulator)` works only through an active `EmulatedAws`: it refuses anything
else, refuses a server endpoint that is not on this machine, and signs every call with
dummy credentials that real AWS would reject, so it cannot build an estate in a real
account by accident. Each account is entered the way the auditor enters it, with
``sts:AssumeRole`` into that account; moto maps the returned credentials to the account
(MOTO_ACCOUNT_ID is never used).

Within each (account, region) the build order follows dependencies: the default VPC is
removed (unless the estate keeps it), then the region's prefix lists, then VPC interiors,
then transit gateways (with their VPN connections) and peerings, then VPC routes (which
may point at those; NAT gateways and instances the estate marks deleted or terminated go
once their routes exist), then workloads (flow logs, EKS, RDS, load balancers, Lambda),
then Block Public Access, and last the CloudWatch traffic of the NAT gateways and endpoints
that carry ``traffic`` (`auditor.emulate.seed_traffic`, stamped relative to the seeding time).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from collections.abc import Mapping

from auditor.emulate.estate import Estate
from auditor.emulate.host import DUMMY_CREDENTIALS, LOOPBACK, EmulatedAws
from auditor.emulate.seed_context import AccountState, Key, RegionContext
from auditor.emulate.seed_network import (seed_default_vpc, seed_prefix_lists, seed_routes, seed_transit,
                                          seed_vpc_interior)
from auditor.emulate.seed_traffic import seed_traffic
from auditor.emulate.seed_workloads import seed_block_public_access, seed_workloads
from auditor.errors import AuditorError

if TYPE_CHECKING:
    import boto3

SEEDER_ROLE = "EstateSeeder"  # any role name works in moto; this one reads well in traces


class EmulatorRequired(AuditorError):
    """`seed` was asked to run somewhere other than an active, local moto emulator."""


@dataclass(frozen=True)
class SeedResult:
    """What the seeder made: (account, region, kind, name) -> AWS id.

    Kinds are the singular estate kinds (``vpc``, ``subnet``, ``route_table``,
    ``security_group``, ``vpc_endpoint``, ``instance``, ``transit_gateway`` ...), whose
    names are the estate's names, plus things the estate implies:
    ``internet_gateway``, ``egress_only_internet_gateway``, ``vpn_gateway``,
    ``carrier_gateway``, ``main_route_table`` and ``flow_log`` (each named after its VPC),
    ``nat_gateway_address`` (the allocation id of a public NAT gateway's EIP, named after
    the NAT gateway), ``transit_gateway_attachment`` (named ``<tgw>/<vpc>``, or
    ``<tgw>/<vpn attachment>``), ``vpn_connection`` and ``customer_gateway`` (named after
    the VPN attachment), ``prefix_list`` (the estate's customer-managed lists),
    ``bpa_exclusion`` (``vpc:<name>`` or ``subnet:<name>``), ``default_vpc`` (``default``,
    only when kept), ``db_subnet_group``, ``s3_bucket`` and ``iam_role`` (by their AWS
    names). EKS clusters, RDS instances, load balancers, Lambda functions, IAM roles and
    buckets are given by ARN; everything else by its EC2 id.
    """

    estate: str
    ids: Mapping[Key, str]

    def id(self, account: str, region: str, kind: str, name: str) -> str:
        """The id of one seeded thing; KeyError naming what was asked when it is not there."""
        try:
            return self.ids[(account, region, kind, name)]
        except KeyError:
            raise KeyError(f"nothing of kind {kind!r} named {name!r} was seeded in {account}/{region}") from None

    def of_kind(self, kind: str) -> dict[tuple[str, str, str], str]:
        """(account, region, name) -> id for every seeded thing of `kind`."""
        return {(a, r, n): v for (a, r, k, n), v in self.ids.items() if k == kind}


def check_emulator(emulator: Any) -> EmulatedAws:
    """Return `emulator` if the seeder may use it, else raise EmulatorRequired."""
    if not isinstance(emulator, EmulatedAws):
        raise EmulatorRequired(f"seed() only builds estates inside the moto emulator; pass an active "
                               f"auditor.emulate.EmulatedAws, not {type(emulator).__name__}")
    if not emulator.active:
        raise EmulatorRequired("the EmulatedAws is not active: call seed() inside "
                               "`with EmulatedAws() as aws:` so moto, not AWS, receives the calls")
    if emulator.mode == "server":
        host = urllib.parse.urlsplit(emulator.endpoint_url or "").hostname
        if host not in (LOOPBACK, "localhost"):
            raise EmulatorRequired(f"refusing to seed through {emulator.endpoint_url!r}: the emulator "
                                   "server must be on this machine")
    elif emulator.endpoint_url is not None:
        raise EmulatorRequired("an in-process emulator must not have an endpoint URL")
    return emulator


def _account_session(emulator: EmulatedAws, account_id: str, loader: Any) -> boto3.Session:
    import boto3
    import botocore.session

    base = botocore.session.Session()
    base.register_component("data_loader", loader)  # share parsed service models: much faster
    base.set_credentials(DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"], DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    sts = base.create_client("sts", region_name="us-east-1", endpoint_url=emulator.endpoint_url)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{SEEDER_ROLE}",
                            RoleSessionName="estate-seeder")["Credentials"]
    inner = botocore.session.Session()
    inner.register_component("data_loader", loader)
    inner.set_credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    session = boto3.Session(botocore_session=inner)
    seen = session.client("sts", region_name="us-east-1", endpoint_url=emulator.endpoint_url).get_caller_identity()
    if seen["Account"] != account_id:  # moto maps assumed-role credentials to the role's account
        raise EmulatorRequired(f"the emulator put credentials for {account_id} in account {seen['Account']}")
    return session


def seed(estate: Estate, emulator: EmulatedAws, now: dt.datetime | None = None) -> SeedResult:
    """Build `estate` inside `emulator` (an active EmulatedAws) and return the ids made.

    `now` (timezone-aware) is the seeding time the traffic datapoints are stamped from
    (`auditor.emulate.seed_traffic.seeded_hours`); the current time when not given.

    Raises EmulatorRequired before any call when `emulator` is not an active local
    emulator. An AWS error while seeding propagates as botocore's ClientError: the estate
    has been validated, so it means the estate asks for something moto cannot do.
    """
    import botocore.session  # here, not at import: importing auditor.emulate stays free

    check_emulator(emulator)
    if now is not None and now.tzinfo is None:
        raise ValueError("seed(now=...) needs a timezone-aware time")
    when = now if now is not None else dt.datetime.now(dt.UTC)
    loader = botocore.session.Session().get_component("data_loader")
    accounts: dict[str, AccountState] = {}
    ids: dict[Key, str] = {}
    for region in estate.regions():
        if region.account_id not in accounts:
            accounts[region.account_id] = AccountState(_account_session(emulator, region.account_id, loader))
        ctx = RegionContext(emulator, accounts[region.account_id], region, ids, estate.name)
        seed_default_vpc(ctx)
        seed_prefix_lists(ctx)
        for vpc in region.vpcs():
            seed_vpc_interior(ctx, vpc)
        seed_transit(ctx)
        for vpc in region.vpcs():
            seed_routes(ctx, vpc)
        seed_workloads(ctx)
        seed_block_public_access(ctx)
        for vpc in region.vpcs():
            seed_traffic(ctx, vpc, when)
    return SeedResult(estate=estate.name, ids=dict(ids))
