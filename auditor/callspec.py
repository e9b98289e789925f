"""A collected AWS call, as data: the shape both collection and the model read.

`CallSpec` names the service and operation, the IAM permission it needs, the response key
that holds its items and, for a per-resource call, which earlier call's items it runs once
for (`ForEach`), or which listings of the account-region it is planned from at once
(`FromListings`). The calls of each resource type are declared in its entry of the resource
registry (auditor/model/registry.py); the collector's catalogue (auditor/collect/catalog.py)
lists them in registry order. This module imports nothing of the auditor, so that
collect/ and model/ can both use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable, Mapping, Sequence

Params = Mapping[str, Any]
Call = tuple[str, str]  # (boto3 service name, operation)


@dataclass(frozen=True)
class ForEach:
    """A per-resource call: run once per item of `source` (an operation of the same
    service), with parameters built from that item."""

    source: str
    items_key: str
    make_params: Callable[[Mapping[str, Any]], Iterable[Params]]
    describe: str  # e.g. "per VPC, two attributes" for docs and the benchmark note


Items = Mapping[str, Sequence[Mapping[str, Any]]]   # "service:Operation" of a listing -> its items


@dataclass(frozen=True)
class FromListings:
    """A call planned once the listings it names (of any service, in the same account-region)
    are all recorded: `make_params` gets every item of each (keyed by the listing's
    ``service:Operation``) and the call's base parameters, and yields one parameter set per
    call to make (none: there is nothing to ask). When a listing failed, was not attempted or
    is not made in the task, the call is recorded as not attempted, saying which and why."""

    sources: tuple[tuple[str, str, str], ...]   # (service, operation, items key) of each listing
    make_params: Callable[[Items, Params], Iterable[Params]]
    describe: str

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f"{service}:{operation}" for service, operation, _ in self.sources)


@dataclass(frozen=True)
class CallSpec:
    """One collected AWS call."""

    service: str            # boto3 client name
    operation: str          # API operation name as AWS spells it
    permission: str         # IAM action the call needs
    items_key: str          # the response key holding the collected items
    params: Params = field(default_factory=dict)
    for_each: ForEach | None = None
    from_listings: FromListings | None = None
    resource_type: str = ""  # model type(s) this feeds, for docs and coverage
    note: str = ""           # why the call looks the way it does
    # Response fields that can carry secrets, as paths into one response page: names
    # separated by ".", "[]" after a name for every element of that list, "*" for every
    # value of a mapping. Each value found there is replaced at collection, before the
    # record is written, by a keyed-hash marker (auditor.collect.redact).
    secret_fields: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.service}:{self.operation}"

    @property
    def call(self) -> Call:
        return (self.service, self.operation)


def per_item(key: str, param: str) -> Callable[[Mapping[str, Any]], Iterable[Params]]:
    """`make_params` of a per-resource call taking one parameter, `param`, from the
    source item's field `key`."""
    def make(item: Mapping[str, Any]) -> Iterable[Params]:
        yield {param: item[key]}
    return make
