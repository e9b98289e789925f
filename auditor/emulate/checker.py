"""The problem collector of the estate checks, and the small checks every part shares.

`auditor.emulate.checks` walks an estate with it, `auditor.emulate.checks_vpc` checks the
inside of one VPC with it; both import it from here, so neither imports the other back.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from collections.abc import Iterable, Mapping

from auditor.errors import Problem
from auditor.validation import did_you_mean
from auditor.yamlpos import Located

Path = tuple[Any, ...]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Checker:
    """Collects the problems of one estate document, each located at the offending value."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))

    def network(self, path: Path, text: Any, *, v4_only: bool = False) -> Network | None:
        try:
            net = ipaddress.ip_network(str(text), strict=True)
        except ValueError as exc:
            hint = "" if "/" in str(text) else " (a CIDR needs a prefix length, e.g. 10.0.0.0/16)"
            self.add(path, f"'{text}' is not a valid CIDR: {exc}{hint}")
            return None
        if v4_only and net.version != 4:
            self.add(path, f"'{text}' must be an IPv4 CIDR")
            return None
        return net

    def ref(self, path: Path, name: Any, known: Iterable[str], what: str, where: str) -> bool:
        known = list(known)
        if name in known:
            return True
        self.add(path, f"no {what} named '{name}' {where}{did_you_mean(str(name), known)}")
        return False

    def ports(self, path: Path, rule: Mapping[str, Any]) -> None:
        ports = rule.get("ports")
        if ports is None:
            return
        if rule["protocol"] in ("all", "icmp", "icmpv6"):
            self.add(path + ("ports",), f"protocol {rule['protocol']} has no ports; leave ports out")
            return
        low, high = (ports, ports) if isinstance(ports, int) else map(int, str(ports).split("-"))
        if not 0 <= low <= high <= 65535:
            self.add(path + ("ports",), f"'{ports}' is not a port range within 0-65535 (low-high)")

    def subnet_refs(self, path: Path, names: list[str], vpc: Mapping[str, Any], *,
                    one_per_az: bool = False, minimum: int = 0, two_azs: bool = False) -> None:
        subnets = {s["name"]: s for s in vpc.get("subnets", [])}
        azs: dict[str, str] = {}
        for i, name in enumerate(names):
            if not self.ref(path + (i,), name, subnets, "subnet", f"in VPC '{vpc['name']}'"):
                continue
            az = subnets[name]["az"]
            if one_per_az and az in azs:
                self.add(path + (i,), f"subnets '{azs[az]}' and '{name}' are both in AZ {az}; "
                         "AWS allows one subnet per AZ here")
            azs.setdefault(az, name)
        if len(names) < minimum:
            self.add(path, f"needs at least {minimum} subnet(s)")
        elif two_azs and len(azs) < 2 and len(names) == len([n for n in names if n in subnets]):
            self.add(path, "needs subnets in at least two availability zones (AWS requires it)")

    def group_refs(self, path: Path, names: list[str], vpc: Mapping[str, Any]) -> None:
        groups = [g["name"] for g in vpc.get("security_groups", [])]
        for i, name in enumerate(names):
            self.ref(path + (i,), name, groups, "security group", f"in VPC '{vpc['name']}'")
