"""findings.json's ``network_costs`` section: what each VPC's private networking costs (docs/findings.md).

A pure function of the model, the findings, the scope, the price table, the interface
services the run's packs require and the traffic known per account-region: the same inputs
give the same section, sorted, byte for byte (``auditor verify`` derives it again).

The figures, per VPC (every VPC with a NAT gateway, and every in-scope VPC):

- NAT gateways: each gateway that is not deleting, deleted or failed (those cost nothing)
  costs ``hours_per_month x`` the hourly price, plus its processing: the bytes CloudWatch
  measured over the window scaled to a month (``bytes / 2^30 x hours_per_month /
  window_hours``) times the per-GB price. Traffic that is not known leaves the processing
  and the total unknown (null, with the reason), never zero.
- The required interface endpoints (in-scope VPCs): ``len(required) x len(AZs) x
  hours_per_month x`` the AZ-hour price, plus the VPC's NAT traffic priced on the endpoint
  per-GB tiers (as if the endpoints carried it); the AZs are the VPC's workload AZs (the
  derived attribute ``workload_availability_zones``), else its subnets' AZs.
- The break-even traffic per required service: the monthly GB at which the service's
  endpoint (its AZ-hours) costs what NAT processing of that traffic would, when NAT's
  per-GB price is above the endpoint's.
- The NAT gateways on the VPC's internet paths (here or in an egress VPC reached over a
  transit gateway), and the S3 / DynamoDB traffic a free gateway endpoint would carry: the
  FAIL findings of rule VE-007 with the NAT processing at stake (an upper bound).

Money is `Decimal` throughout, rounded to the cent (ROUND_HALF_UP) once, when written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from auditor.analyze.reachability import path_resources, subnet_reachability
from auditor.config import Scope
from auditor.costs.prices import NoPrice, PriceTable, RegionPrices, Tier
from auditor.costs.traffic import MEASURED, NOT_COLLECTED, RegionTraffic
from auditor.findings import Finding
from auditor.model.types import Model, NatGateway, Resource, Subnet, Vpc
from auditor.rules.derive import active_nat_gateways
from auditor.rules.derived import DERIVED
from auditor.rules.packs import Rule
from auditor.rules.scope import ScopeIndex

__all__ = ["COMPUTED", "NOT_COMPUTED", "REQUIRED_PARAMETER", "GATEWAY_GAP_RULE", "cost_section", "not_computed",
           "required_interface_services", "money", "gb", "TrafficSource", "not_collected"]

COMPUTED = "computed"
NOT_COMPUTED = "not_computed"
# The pack parameter whose list a `for_each` rule requires an interface endpoint for (VE-001).
REQUIRED_PARAMETER = "required_interface_services"
# "S3 or DynamoDB reachable only through NAT": one FAIL finding per subnet and service.
GATEWAY_GAP_RULE = "VE-007"
GATEWAY_SERVICES = ("dynamodb", "s3")
GIB = Decimal(2 ** 30)          # 1 GB as AWS bills it
_CENT = Decimal("0.01")

TrafficSource = Callable[[str, str], RegionTraffic]   # (account, region) -> its traffic
NOT_COLLECTED_NOTE = "traffic not collected (costs.traffic is off): processing costs are unknown, hours only"
_TIER_NOTE = ("endpoint processing prices this VPC's traffic alone from the first tier: AWS tiers the per-GB price "
              "on the whole region's endpoint volume of the account, so the account's bill may be lower")
_UPPER_BOUND = ("an upper bound: CloudWatch does not split a NAT gateway's bytes by destination, so this is all the "
                "processing of the NAT gateways these subnets use, not only their S3 or DynamoDB traffic")


def money(value: Decimal | None) -> str | None:
    """Two decimals, rounded half up (the one rounding of a figure); None stays None."""
    return None if value is None else str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


gb = money   # GB figures are written like money: two decimals


def not_computed(reason: str) -> dict[str, Any]:
    """The section when no cost view is made (no price table, ...): why, nothing else."""
    return {"status": NOT_COMPUTED, "reason": reason}


def required_interface_services(rules: Iterable[Rule]) -> tuple[str, ...] | None:
    """The interface services the run's rules require (the bound values of every rule that runs
    for each element of a pack's ``required_interface_services``, VE-001 among the built-in
    packs: config and profiles may override them), sorted; None when no such rule is in the run."""
    found: set[str] | None = None
    for rule in rules:
        if rule.for_each is not None and rule.for_each[1] == REQUIRED_PARAMETER:
            found = (found or set()) | {str(x) for x in rule.for_each_values}
    return None if found is None else tuple(sorted(found))


def _tiered(monthly_gb: Decimal, tiers: Sequence[Tier]) -> Decimal:
    """The price of `monthly_gb` on per-GB tiers (each up to its cumulative `up_to_gb`)."""
    total, below = Decimal(0), Decimal(0)
    for tier in tiers:
        top = monthly_gb if tier.up_to_gb is None else min(monthly_gb, tier.up_to_gb)
        if top > below:
            total += (top - below) * tier.per_gb
            below = top
        if below >= monthly_gb:
            break
    return total


class _Run:
    """What the section needs of one model, indexed once."""

    def __init__(self, model: Model, prices: PriceTable, traffic: TrafficSource):
        self.model = model
        self.prices = prices
        self.hours = prices.hours_per_month
        self._traffic = traffic
        self._regions: dict[tuple[str, str], RegionTraffic] = {}
        self._nats: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._egress: dict[tuple[str, str, str], tuple[NatGateway, ...]] = {}
        # (account, region, VPC id) -> type -> its resources, by id: one pass over the model
        self.by_vpc: dict[tuple[str, str, str], dict[str, list[Resource]]] = {}
        for type_name in ("subnet", "nat_gateway"):
            for r in sorted(model.of(type_name), key=lambda r: r.id):
                key = (r.account, r.region, str(getattr(r, "vpc_id", "") or ""))
                self.by_vpc.setdefault(key, {}).setdefault(type_name, []).append(r)

    def of_vpc(self, type_name: str, vpc: Vpc) -> list[Resource]:
        return self.by_vpc.get((vpc.account, vpc.region, vpc.id), {}).get(type_name, [])

    def traffic(self, account: str, region: str) -> RegionTraffic:
        key = (account, region)
        if key not in self._regions:
            self._regions[key] = self._traffic(account, region)
        return self._regions[key]

    def price(self, region: str) -> RegionPrices | NoPrice:
        return self.prices.lookup(region)

    def nat(self, nat: NatGateway, billed: bool) -> dict[str, Any]:
        """One gateway's month, as Decimals (`_gw` writes it): hours, monthly GB, processing."""
        key = (nat.account, nat.region, nat.id)
        if key in self._nats:
            return self._nats[key]
        price = self.price(nat.region)
        t = self.traffic(nat.account, nat.region)
        month_gb: Decimal | None = None
        why = ""
        if t.status != MEASURED:
            why = t.reason or f"traffic {t.status.replace('_', ' ')}"
        elif t.window_hours <= 0:
            why = "the traffic window has no hours"
        elif t.nat_bytes.get(nat.id) is None:
            why = f"CloudWatch returned no datapoint for {nat.id} in the window: its traffic is unknown"
        elif not isinstance(t.nat_bytes[nat.id], int) or int(t.nat_bytes[nat.id] or 0) < 0:
            why = f"the byte count read for {nat.id} ({t.nat_bytes[nat.id]!r}) is not a count: its traffic is unknown"
        else:
            month_gb = Decimal(int(t.nat_bytes[nat.id] or 0)) / GIB * self.hours / Decimal(t.window_hours)
        hours = processing = None
        if not billed:
            hours = processing = Decimal(0)
            why = f"{nat.state or 'gone'}: a NAT gateway that is deleting, deleted or failed costs nothing"
        elif isinstance(price, RegionPrices):
            hours = self.hours * price.nat_gateway_hour
            processing = None if month_gb is None else month_gb * price.nat_gateway_gb
            if not nat.state:
                why = "state unknown: counted as running" + (f"; {why}" if why else "")
        else:
            why = price.reason
        total = None if hours is None or processing is None else hours + processing
        row = {"nat": nat, "billed": billed, "monthly_gb": month_gb, "hours": hours, "processing": processing,
               "total": total, "reason": why}
        self._nats[key] = row
        return row

    def egress(self, subnet: Subnet) -> tuple[NatGateway, ...]:
        """The NAT gateways on the subnet's internet paths (any VPC, account or region)."""
        key = (subnet.account, subnet.region, subnet.id)
        if key not in self._egress:
            found: dict[tuple[str, str, str], NatGateway] = {}
            for path in subnet_reachability(self.model, subnet).of("internet"):
                for r in path_resources(self.model, path):
                    if isinstance(r, NatGateway):
                        found.setdefault((r.account, r.region, r.id), r)
            self._egress[key] = tuple(found[k] for k in sorted(found))
        return self._egress[key]

    def indeterminate(self, subnet: Subnet) -> tuple[str, ...]:
        """Why some of the subnet's paths could not be followed (the paths are a lower bound)."""
        return subnet_reachability(self.model, subnet).indeterminate

    def nat_billed(self, nat: NatGateway) -> bool:
        vpc = self.model.get("vpc", nat.vpc_id, nat.account, nat.region)
        if isinstance(vpc, Vpc):
            return nat in active_nat_gateways(self.model, vpc)
        return nat.state.lower() not in ("deleting", "deleted", "failed")


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    total = Decimal(0)
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _why(rows: Iterable[Mapping[str, Any]]) -> str:
    """Each reason once, with the gateways it concerns: ``<reason> (nat-a, nat-b)``."""
    by_reason: dict[str, list[str]] = {}
    for r in rows:
        by_reason.setdefault(r["reason"], []).append(r["nat"].id)
    return "; ".join(f"{why} ({', '.join(sorted(ids))})" for why, ids in sorted(by_reason.items()))


def _gw(row: Mapping[str, Any]) -> dict[str, Any]:
    nat: NatGateway = row["nat"]
    return {"id": nat.id, "availability_zone": "", "state": nat.state, "monthly_gb": gb(row["monthly_gb"]),
            "hours": money(row["hours"]), "processing": money(row["processing"]), "total": money(row["total"]),
            "reason": row["reason"]}


def _vpc_entry(run: _Run, vpc: Vpc, in_scope: bool, required: tuple[str, ...] | None,
               gaps: Mapping[tuple[str, str, str], Mapping[str, list[Finding]]]) -> dict[str, Any]:
    model, notes = run.model, []
    price = run.price(vpc.region)
    priced = isinstance(price, RegionPrices)
    t = run.traffic(vpc.account, vpc.region)
    subnets = [s for s in run.of_vpc("subnet", vpc) if isinstance(s, Subnet)]
    az_of = {s.id: s.availability_zone for s in subnets}

    # -- NAT gateways of this VPC
    rows = [run.nat(n, run.nat_billed(n)) for n in run.of_vpc("nat_gateway", vpc) if isinstance(n, NatGateway)]
    gateways = []
    for row in rows:
        g = _gw(row)
        g["availability_zone"] = az_of.get(row["nat"].subnet_id, "")
        gateways.append(g)
        if not row["billed"]:
            notes.append(f"{row['nat'].id}: {row['reason']}")
    billed = [r for r in rows if r["billed"]]
    nats_known = _listed(model, vpc, "DescribeNatGateways", "the NAT gateways", notes)
    nat_gb = _sum(r["monthly_gb"] for r in billed) if nats_known else None   # none running: no NAT traffic
    nat_hours = _sum(r["hours"] for r in billed) if priced and nats_known else None
    nat_processing = _sum(r["processing"] for r in billed) if priced and nats_known else None
    nat_total = None if nat_hours is None or nat_processing is None else nat_hours + nat_processing
    if billed and nat_processing is None and priced:
        notes.append("NAT processing unknown: " + _why(r for r in billed if r["processing"] is None))

    # -- NAT gateways on the internet paths of its subnets
    egress: dict[tuple[str, str, str], NatGateway] = {}
    for s in subnets:
        for n in run.egress(s):
            egress[(n.account, n.region, n.id)] = n
    egress_rows = [{"nat": n.id, "vpc": n.vpc_id, "account": n.account, "region": n.region}
                   for n in (egress[k] for k in sorted(egress))]
    unsure = sorted({why for s in subnets for why in run.indeterminate(s)})
    if unsure:
        notes.append(f"some internet paths of the VPC's subnets could not be followed ({unsure[0]}"
                     f"{f'; and {len(unsure) - 1} more' if len(unsure) > 1 else ''}): the NAT gateways on them "
                     "(egress_via_nat) are a lower bound")

    # -- the required interface endpoints
    zones, zones_note = _zones(model, vpc, subnets)
    present: list[str] = list(DERIVED[("vpc", "interface_endpoint_services")](model, vpc).value or ())
    ep: dict[str, Any] = {"required": [], "present": [], "missing": [], "hours": None, "processing": None,
                          "total": None, "missing_hours": None}
    break_even: list[dict[str, Any]] = []
    if in_scope:
        ep["present"] = present
        if zones_note:
            notes.append(zones_note)
        if required is None:
            notes.append("no required endpoints known: no rule of the run lists required interface services "
                         f"({REQUIRED_PARAMETER}, rule VE-001): endpoint costs are not computed")
        else:
            endpoints_known = _listed(model, vpc, "DescribeVpcEndpoints", "the VPC endpoints", notes)
            missing = [s for s in required if s not in present] if endpoints_known else []
            ep.update(required=list(required), missing=missing)
            if priced and zones:
                assert isinstance(price, RegionPrices)
                per_service = len(zones) * run.hours * price.interface_endpoint_az_hour
                hours = len(required) * per_service
                processing = _endpoint_processing(billed, nat_gb, price, egress_rows, notes)
                ep.update(hours=money(hours), processing=money(processing),
                          total=money(None if processing is None else hours + processing),
                          missing_hours=money(len(missing) * per_service) if endpoints_known else None)
                break_even = _break_even(required, per_service, price)
                if processing is not None:
                    notes.append(_TIER_NOTE)
            elif priced:
                notes.append("endpoint costs unknown: the VPC has no subnet with a known availability zone")
            if not break_even:
                break_even = [{"service": s, "monthly_gb": None,
                               "note": price.reason if isinstance(price, NoPrice) else "no availability zone known"}
                              for s in required]
    if not priced:
        assert isinstance(price, NoPrice)
        notes.append(f"no price for {vpc.region}: every money figure is unknown ({price.reason})")

    return {
        "account": vpc.account, "region": vpc.region, "vpc": vpc.id, "name": vpc.tag("Name") or "",
        "in_scope": in_scope, "priced": priced, "price_note": "" if priced else getattr(price, "reason", ""),
        "availability_zones": list(zones),
        "traffic": {"status": t.status, "reason": t.reason, "window_start": t.window_start,
                    "window_end": t.window_end, "window_hours": t.window_hours},
        "nat": {"gateways": gateways, "hours": money(nat_hours), "processing": money(nat_processing),
                "total": money(nat_total), "monthly_gb": gb(nat_gb)},
        "egress_via_nat": egress_rows,
        "endpoints": ep,
        "break_even": break_even,
        "gateway_endpoint_gaps": _gaps(run, gaps.get((vpc.account, vpc.region, vpc.id), {})),
        "notes": list(dict.fromkeys(notes)),
    }


def _listed(model: Model, vpc: Vpc, operation: str, what: str, notes: list[str]) -> bool:
    """Whether ec2 `operation` was collected in the VPC's account-region; when not, a note."""
    if model.coverage.collected(vpc.account, vpc.region, "ec2", operation):
        return True
    why = next((w for k, w in model.coverage.failed if k == (vpc.account, vpc.region, "ec2", operation)),
               "not collected")
    notes.append(f"{what} of {vpc.account}/{vpc.region} could not be listed (ec2:{operation}: {why}): "
                 "the figures that depend on them are unknown")
    return False


def _zones(model: Model, vpc: Vpc, subnets: Sequence[Subnet]) -> tuple[tuple[str, ...], str]:
    """The AZs the endpoint cost counts, and a note when they are not the workload AZs."""
    workload = tuple(DERIVED[("vpc", "workload_availability_zones")](model, vpc).value or ())
    if workload:
        return workload, ""
    zones = tuple(sorted({s.availability_zone for s in subnets if s.availability_zone}))
    listed = model.coverage.collected(vpc.account, vpc.region, "ec2", "DescribeNetworkInterfaces")
    if zones:
        why = ("no workload interface found in the VPC" if listed else
               "the network interfaces could not be listed (ec2:DescribeNetworkInterfaces), so the workload AZs are "
               "unknown")
        return zones, f"{why}: the endpoint cost counts every availability zone of its subnets ({', '.join(zones)})"
    return (), ""


def _endpoint_processing(billed: Sequence[Mapping[str, Any]], nat_gb: Decimal | None, price: RegionPrices,
                         egress: Sequence[Mapping[str, str]], notes: list[str]) -> Decimal | None:
    """What the VPC's NAT traffic would cost through endpoints; None (with a note) when unknown."""
    if not billed:
        notes.append("endpoint processing unknown: the VPC has no NAT gateway of its own"
                     + (" and a NAT gateway of another VPC does not split its traffic by source VPC" if any(
                         True for _ in egress) else ""))
        return None
    if nat_gb is None:
        notes.append("endpoint processing unknown: the traffic through the VPC's NAT gateways is unknown")
        return None
    return _tiered(nat_gb, price.interface_endpoint_gb)


def _break_even(required: Sequence[str], per_service: Decimal, price: RegionPrices) -> list[dict[str, Any]]:
    first = price.interface_endpoint_gb[0].per_gb if price.interface_endpoint_gb else None
    out = []
    for service in required:
        if first is None:
            out.append({"service": service, "monthly_gb": None, "note": "the price table has no endpoint per-GB price"})
        elif price.nat_gateway_gb <= first:
            out.append({"service": service, "monthly_gb": None,
                        "note": f"no break-even: NAT processing ({price.nat_gateway_gb}/GB) does not cost more than "
                                f"endpoint processing ({first}/GB)"})
        else:
            out.append({"service": service, "monthly_gb": gb(per_service / (price.nat_gateway_gb - first)),
                        "note": ""})
    return out


def _gaps(run: _Run, by_service: Mapping[str, list[Finding]]) -> list[dict[str, Any]]:
    out = []
    for service in sorted(by_service):
        findings = by_service[service]
        subnets = sorted({f.resource.id for f in findings})
        nats: dict[tuple[str, str, str], NatGateway] = {}
        for f in findings:
            s = run.model.get("subnet", f.resource.id, f.resource.account, f.resource.region)
            if isinstance(s, Subnet):
                for n in run.egress(s):
                    nats[(n.account, n.region, n.id)] = n
        rows = [run.nat(nats[k], run.nat_billed(nats[k])) for k in sorted(nats)]
        at_stake = _sum(r["processing"] for r in rows) if rows else None
        if not rows:
            note = "no NAT gateway found on these subnets' internet paths: the processing at stake is unknown"
        elif at_stake is None:
            note = "the processing at stake is unknown: " + _why(r for r in rows if r["processing"] is None)
        else:
            note = f"{', '.join(r['nat'].id for r in rows)}: {_UPPER_BOUND}"
        out.append({"service": service, "subnets": subnets, "findings": sorted({f.fingerprint for f in findings}),
                    "nat_processing_at_stake": money(at_stake), "note": note})
    return out


def _gap_findings(model: Model, findings: Iterable[Finding]) -> dict[tuple[str, str, str], dict[str, list[Finding]]]:
    """The FAIL findings of VE-007 by the subnet's VPC, then by service (the finding's item)."""
    out: dict[tuple[str, str, str], dict[str, list[Finding]]] = {}
    for f in findings:
        if f.rule_id != GATEWAY_GAP_RULE or f.status != "FAIL" or f.resource.type != "subnet" or f.item is None:
            continue
        s = model.get("subnet", f.resource.id, f.resource.account, f.resource.region)
        if isinstance(s, Subnet):
            out.setdefault((s.account, s.region, s.vpc_id), {}).setdefault(str(f.item), []).append(f)
    return out


def _run_traffic(collected: bool, window_days: int | None, vpcs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not collected:
        note = NOT_COLLECTED_NOTE
    else:
        failed = sorted({f"{v['account']}/{v['region']}" for v in vpcs if v["traffic"]["status"] != MEASURED})
        note = f"traffic measured over {window_days} day(s) and scaled to a month" if window_days else \
            "traffic measured and scaled to a month"
        if failed:
            note += f"; unknown in {', '.join(failed)} (see each VPC's traffic.reason): processing there is unknown"
    return {"collected": collected, "window_days": window_days, "note": note}


def cost_section(model: Model, findings: Sequence[Finding], scope: Scope, prices: PriceTable,
                 required: tuple[str, ...] | None, traffic: TrafficSource, *, traffic_collected: bool,
                 window_days: int | None) -> dict[str, Any]:
    """findings.json's ``network_costs`` (docs/findings.md): one entry per VPC with a NAT gateway and per
    in-scope VPC, sorted by (account, region, VPC id). `required`: the interface services the
    run requires (`required_interface_services`), None when no rule of the run names them.
    `traffic(account, region)` gives each account-region's traffic (called once each)."""
    index = ScopeIndex(model, scope)
    vpcs = sorted((v for v in model.of("vpc") if isinstance(v, Vpc)), key=lambda v: (v.account, v.region, v.id))
    with_nat = {(n.account, n.region, getattr(n, "vpc_id", "")) for n in model.of("nat_gateway")}
    run = _Run(model, prices, traffic)
    gaps = _gap_findings(model, findings)
    entries = [_vpc_entry(run, v, index.in_scope(v), required, gaps) for v in vpcs
               if index.in_scope(v) or (v.account, v.region, v.id) in with_nat]
    currencies = sorted({p.currency for p in prices.regions.values() if isinstance(p, RegionPrices)})
    hpm = prices.hours_per_month
    section: dict[str, Any] = {
        "status": COMPUTED, "reason": "" if entries else "no VPC with a NAT gateway and no in-scope VPC in the model",
        "currency": currencies[0] if len(currencies) == 1 else "/".join(currencies) or "USD",
        "hours_per_month": int(hpm) if hpm == hpm.to_integral_value() else str(hpm),
        "prices": {"file": prices.path, "sha256": prices.sha256, "as_of": prices.as_of, "source": prices.source},
        "traffic": _run_traffic(traffic_collected, window_days, entries),
        "vpcs": entries,
    }
    if not entries:
        section["status"] = NOT_COMPUTED
    return section


def not_collected(reason: str = "traffic not collected (costs.traffic is off)") -> TrafficSource:
    """A traffic source for a run without traffic: every account-region `not_collected`."""
    return lambda account, region: RegionTraffic(account, region, NOT_COLLECTED, reason)
