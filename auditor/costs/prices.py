"""The price table: what NAT gateways and VPC endpoints cost per region, with where each
figure comes from and when it was read (docs/costs.md)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from auditor.errors import InputError, Problem

if TYPE_CHECKING:
    from auditor.yamlpos import Located


@dataclass(frozen=True)
class Tier:
    """One step of a per-GB price: `per_gb` for the GB of a month up to `up_to_gb` (None: no end)."""

    up_to_gb: Decimal | None
    per_gb: Decimal


@dataclass(frozen=True)
class RegionPrices:
    """On-demand list prices of one region, in `currency`."""

    region: str
    currency: str
    nat_gateway_hour: Decimal            # per NAT gateway-hour
    nat_gateway_gb: Decimal              # per GB processed by a NAT gateway
    interface_endpoint_az_hour: Decimal  # per interface endpoint, per availability zone, per hour
    interface_endpoint_gb: tuple[Tier, ...]   # per GB processed, tiered on the month's volume
    gateway_endpoint_hour: Decimal       # gateway endpoints (S3, DynamoDB): 0
    gateway_endpoint_gb: Decimal         # 0
    source: str                          # where the figures were read (URL or offer file and its publication date)
    as_of: str                           # ISO date the figures were read


@dataclass(frozen=True)
class NoPrice:
    """A region the table has no price for, and why (never a price of zero)."""

    region: str
    reason: str


@dataclass(frozen=True)
class PriceTable:
    path: str              # the table's file as findings.json names it (never a path of this machine)
    sha256: str            # of the file's bytes
    as_of: str             # ISO date of the table as a whole
    source: str
    hours_per_month: Decimal   # 730, AWS's own monthly figure
    regions: Mapping[str, RegionPrices | NoPrice]

    def lookup(self, region: str) -> RegionPrices | NoPrice:
        """The region's prices; a region the table does not list is a `NoPrice` saying so."""
        found = self.regions.get(region)
        if found is None:
            return NoPrice(region, f"{region} is not in the price table {self.path} (as of {self.as_of})")
        return found


# -- loading -----------------------------------------------------------------------------------

# The built-in table, as findings.json names it: the same from a checkout and an installed wheel
# (`load_prices()` reads it; `builtin_prices_path()` is its file on this machine).
DEFAULT_PRICES = "rules/prices/aws-network.yaml"
# A plain decimal as written: no sign, exponent, underscore, hex or leading dot (so that what is
# read is exactly what a reviewer sees).
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_PRICE_FIELDS = ("nat_gateway_hour", "nat_gateway_gb", "interface_endpoint_az_hour",
                 "gateway_endpoint_hour", "gateway_endpoint_gb")


def builtin_prices_path() -> Path:
    """The built-in table's file (from a checkout or an installed wheel: auditor/resources.py)."""
    from auditor.resources import builtin_dir

    return builtin_dir("rules") / "prices" / "aws-network.yaml"


def load_prices(path: Path | None = None) -> PriceTable:
    """Read and check a price table: `path`, or the built-in table when None.

    Raises InputError listing every problem at ``file:line:col``: malformed YAML, unknown or
    missing keys, a price that is negative or not a plain decimal, tiers not ascending or
    without an open last tier, a region both priced and `no_price`, an impossible date.
    Prices are read from the text as written (never through a float)."""
    file = builtin_prices_path() if path is None else Path(path)
    builtin = path is None or _same_file(file, builtin_prices_path())
    shown = DEFAULT_PRICES if builtin else str(file)
    data = _read_bytes(file, shown)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(shown, 1, 1, "", f"not UTF-8 text ({exc.reason})")]) from None
    table = prices_from_text(text, shown, name=DEFAULT_PRICES if builtin else file.name)
    return replace(table, sha256=hashlib.sha256(data).hexdigest())


def prices_from_text(text: str, shown: str, *, name: str) -> PriceTable:
    """A price table from its YAML `text` (`shown` in messages, `name` as findings.json names
    it); `sha256` is that of `text` encoded as UTF-8."""
    from auditor.validation import schema_problems, schema_view
    from auditor.yamlpos import Located, load_yaml_text

    doc = load_yaml_text(text, shown)
    if not isinstance(doc.data, dict):
        raise InputError([doc.problem((), "expected a mapping (version, as_of, currency, ..., regions)")])
    view = Located(doc.file, schema_view(doc.data), doc.values, doc.keys, doc.raw)
    problems = schema_problems("prices", view)
    if problems:
        raise InputError(problems)
    reader = _Reader(doc)
    d = doc.data
    as_of = reader.date(("as_of",))
    hours = reader.decimal(("hours_per_month",))
    if hours is not None and hours == 0:
        reader.problems.append(doc.problem(("hours_per_month",), "must be more than 0 (AWS bills 730 hours a month)"))
    regions: dict[str, RegionPrices | NoPrice] = {}
    for region in sorted(d["regions"], key=str):
        entry = reader.region(str(region), d["regions"][region], d["currency"])
        if entry is not None:
            regions[str(region)] = entry
    if reader.problems:
        raise InputError(reader.problems)
    assert hours is not None
    return PriceTable(path=name, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), as_of=as_of,
                      source=d["source"], hours_per_month=hours, regions=MappingProxyType(regions))


# A region name as AWS writes it (us-east-1, us-gov-west-1, eusc-de-east-1; Local Zones too): the
# keys of a table, and the only region codes a refresh takes from an offer file.
REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)+")


class _Reader:
    """The semantic checks the schema cannot make, each problem at its line."""

    def __init__(self, doc: Located):
        self.doc = doc
        self.problems: list[Problem] = []

    def decimal(self, path: tuple[Any, ...]) -> Decimal | None:
        raw = self.doc.raw.get(path, "")
        if not _PLAIN_DECIMAL.fullmatch(raw):
            self.problems.append(self.doc.problem(path, f"'{raw}' is not a plain decimal number: write prices "
                                                        "as digits with an optional decimal point, e.g. 0.045"))
            return None
        return Decimal(raw)

    def date(self, path: tuple[Any, ...]) -> str:
        raw = self.doc.raw.get(path, "")
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            self.problems.append(self.doc.problem(path, f"'{raw}' is not a date (YYYY-MM-DD, e.g. 2026-12-07)"))
            return raw

    def region(self, name: str, entry: Mapping[str, Any], currency: str) -> RegionPrices | NoPrice | None:
        where = ("regions", name)
        if not REGION.fullmatch(name):
            self.problems.append(self.doc.problem(where, f"'{name}' is not a region name (e.g. eu-west-1)", key=True))
            return None
        if "no_price" in entry:
            return NoPrice(name, entry["no_price"])
        before = len(self.problems)
        values = {f: self.decimal(where + (f,)) for f in _PRICE_FIELDS}
        tiers = self.tiers(where + ("interface_endpoint_gb",), entry["interface_endpoint_gb"])
        as_of = self.date(where + ("as_of",))
        if len(self.problems) > before:
            return None
        return RegionPrices(
            region=name, currency=currency, nat_gateway_hour=_known(values["nat_gateway_hour"]),
            nat_gateway_gb=_known(values["nat_gateway_gb"]),
            interface_endpoint_az_hour=_known(values["interface_endpoint_az_hour"]), interface_endpoint_gb=tiers,
            gateway_endpoint_hour=_known(values["gateway_endpoint_hour"]),
            gateway_endpoint_gb=_known(values["gateway_endpoint_gb"]), source=entry["source"], as_of=as_of)

    def tiers(self, path: tuple[Any, ...], written: list[Mapping[str, Any]]) -> tuple[Tier, ...]:
        out: list[Tier] = []
        last_end = Decimal(0)
        for i, tier in enumerate(written):
            per_gb = self.decimal(path + (i, "per_gb"))
            up_to: Decimal | None = None
            if tier["up_to_gb"] is not None:
                up_to = self.decimal(path + (i, "up_to_gb"))
                if up_to is not None and up_to <= last_end:
                    self.problems.append(self.doc.problem(
                        path + (i, "up_to_gb"), f"tiers must ascend: {up_to} GB is not above the previous tier's "
                                                f"end ({last_end} GB)"))
                if up_to is not None:
                    last_end = max(last_end, up_to)
            elif i != len(written) - 1:
                self.problems.append(self.doc.problem(path + (i, "up_to_gb"), "only the last tier may be open "
                                                      "(up_to_gb: null); tiers must ascend"))
            if per_gb is not None:
                out.append(Tier(up_to, per_gb))
        if written and written[-1]["up_to_gb"] is not None:
            self.problems.append(self.doc.problem(path + (len(written) - 1, "up_to_gb"),
                                                  "the last tier must be open (up_to_gb: null): GB above "
                                                  f"{written[-1]['up_to_gb']} would have no price"))
        return tuple(out)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:   # a symlink loop: reading it says what is wrong
        return False


def _read_bytes(file: Path, shown: str) -> bytes:
    """The file's bytes; an unreadable file is an InputError naming it (as yamlpos.read_text)."""
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(shown, 0, 0, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(shown, 0, 0, "", "is a directory, expected a price table (YAML)")]) from None
    except OSError as exc:
        raise InputError([Problem(shown, 0, 0, "", f"cannot read: {exc.strerror}")]) from None


def _known(value: Decimal | None) -> Decimal:
    """A value `_Reader` read without a problem (a None there has been reported already)."""
    assert value is not None
    return value
