"""What seeding one (account, region) works with: its clients, the ids made so far, helpers.

`auditor.emulate.seed` makes a `RegionContext` per (account, region) and hands it to the
builders in `auditor.emulate.seed_network` and `auditor.emulate.seed_workloads`; they
import it from here, so the seeder imports them and none imports the seeder back.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from collections.abc import Mapping

from auditor.emulate.estate import RegionEstate
from auditor.emulate.host import EmulatedAws

if TYPE_CHECKING:
    import boto3

Key = tuple[str, str, str, str]  # (account, region, kind, name)


@dataclass
class AccountState:
    """Per-account things shared by the account's regions (IAM is global)."""

    session: boto3.Session
    roles: dict[str, str] = field(default_factory=dict)


class RegionContext:
    """Clients, ids and helpers for seeding one (account, region)."""

    def __init__(self, emulator: EmulatedAws, account: AccountState, spec: RegionEstate,
                 ids: dict[Key, str], estate_name: str) -> None:
        self.account_id, self.region, self.spec = spec.account_id, spec.region, spec
        self.acct, self.ids, self.estate_name = account, ids, estate_name
        self._endpoint = emulator.endpoint_url
        self._clients: dict[str, Any] = {}
        self._prefix_lists: dict[str, str] | None = None
        self._image: str | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.acct.session.client(service, region_name=self.region,
                                                              endpoint_url=self._endpoint)
        return self._clients[service]

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    def put(self, kind: str, name: str, value: str) -> str:
        self.ids[(self.account_id, self.region, kind, name)] = value
        return value

    def get(self, kind: str, name: str) -> str:
        return self.ids[(self.account_id, self.region, kind, name)]

    def tags(self, name: str, extra: Mapping[str, str] | None = None) -> list[dict[str, str]]:
        merged = {"Name": name, "estate": self.estate_name, **dict(extra or {})}
        return [{"Key": k, "Value": v} for k, v in merged.items()]

    def tag_spec(self, resource_type: str, name: str, extra: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        return [{"ResourceType": resource_type, "Tags": self.tags(name, extra)}]

    def service_name(self, service: str) -> str:
        """``sqs`` -> ``com.amazonaws.<region>.sqs``; full names are kept as given."""
        return service if service.startswith(("com.amazonaws.", "aws.")) else f"com.amazonaws.{self.region}.{service}"

    def prefix_list(self, service: str) -> str:
        """The id of the region's prefix list called `service` (seeded from the estate's
        prefix_lists), else of the AWS-managed prefix list of `service` (s3, dynamodb)."""
        own = self.ids.get((self.account_id, self.region, "prefix_list", service))
        if own is not None:
            return own
        if self._prefix_lists is None:
            found = self.ec2.describe_managed_prefix_lists()["PrefixLists"]
            self._prefix_lists = {p["PrefixListName"]: p["PrefixListId"] for p in found}
        return self._prefix_lists[self.service_name(service)]

    def image(self) -> str:
        if self._image is None:
            # Listing every Amazon image costs moto over a second a region (it serialises some
            # 1,400): ask for the one that listing gives first, by name, and list them all only
            # when moto's bundled images no longer hold it.
            found = (self.ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": [_FIRST_IMAGE]}])
                     ["Images"] or self.ec2.describe_images(Owners=["amazon"])["Images"])
            self._image = found[0]["ImageId"]
        return self._image

    def role(self, name: str, service_principal: str) -> str:
        """The ARN of an IAM role in this account, created on first use."""
        if name not in self.acct.roles:
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                             "Principal": {"Service": service_principal}}]}
            arn = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                                 Tags=self.tags(name))["Role"]["Arn"]
            self.acct.roles[name] = arn
            self.put("iam_role", name, arn)
        return self.acct.roles[name]


_FIRST_IMAGE = "Windows_Server-2016-English-Nano-Base-2017.10.13"   # moto 5's first Amazon image


def is_ipv6(cidr: str) -> bool:
    """True for an IPv6 CIDR (the estate has been validated, so it parses)."""
    return ipaddress.ip_network(cidr, strict=False).version == 6
