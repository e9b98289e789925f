"""The declarative estate: a YAML description of AWS networks for the emulator to build.

`load_estate` reads the YAML with positions, validates it against the published schema
(``auditor/schemas/estate.schema.json``), then runs the semantic checks of
`auditor.emulate.checks` (names that refer to nothing, duplicate names, bad CIDRs,
unknown regions ...). Every problem is raised at once as an InputError whose problems
carry ``file:line:col``. The result is an immutable `Estate`.

Names, not AWS ids, tie the estate together: a subnet names its route table, a route
names its target (``nat:egress-a``), and so on; the seeder resolves them. Names are unique
per (account, region, kind), which is also how `SeedResult` keys the ids it made.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Mapping

from auditor.emulate.checks import semantic_problems
from auditor.errors import InputError
from auditor.validation import schema_problems
from auditor.yamlpos import Located, load_yaml, load_yaml_text

@dataclass(frozen=True)
class RegionEstate:
    """What one account holds in one region: the validated mapping from the estate file.

    `spec` has the shape of ``$defs/region`` in the schema (keys may be absent; absent
    lists are empty). `path` locates it in the source document for messages.
    """

    account_id: str
    account_name: str
    region: str
    spec: Mapping[str, Any]
    path: tuple[Any, ...]

    def vpcs(self) -> list[Mapping[str, Any]]:
        return list(self.spec.get("vpcs", ()))

    def vpc(self, name: str) -> Mapping[str, Any]:
        """The VPC called `name` (KeyError if none)."""
        for vpc in self.vpcs():
            if vpc["name"] == name:
                return vpc
        raise KeyError(f"no VPC named {name!r} in {self.account_id}/{self.region}")


@dataclass(frozen=True)
class Estate:
    """A validated estate. Treat `data` as read-only; it is a private deep copy."""

    name: str
    description: str
    source: str
    data: Mapping[str, Any]

    @property
    def account_ids(self) -> tuple[str, ...]:
        return tuple(a["id"] for a in self.data["accounts"])

    def account_name(self, account_id: str) -> str:
        for acct in self.data["accounts"]:
            if acct["id"] == account_id:
                return str(acct.get("name", ""))
        raise KeyError(account_id)

    def regions(self) -> Iterator[RegionEstate]:
        """Every (account, region) in file order."""
        for i, acct in enumerate(self.data["accounts"]):
            for region, spec in acct["regions"].items():
                yield RegionEstate(acct["id"], str(acct.get("name", "")), region, spec or {},
                                   ("accounts", i, "regions", region))

    def region_names(self) -> tuple[str, ...]:
        """Every region used by any account, sorted."""
        return tuple(sorted({r.region for r in self.regions()}))


def parse_estate(doc: Located) -> Estate:
    """Validate a parsed document and build the Estate. Raises InputError with every problem.

    Schema problems are reported first and alone: the semantic checks assume the shape
    the schema guarantees.
    """
    if not isinstance(doc.data, dict):
        raise InputError([doc.problem((), "expected a mapping with estate: and accounts: at the top of the file")])
    # Our own message for unquoted ids wins over the schema's "expected a string" there.
    problems = _id_problems(doc)
    covered = {(p.line, p.col) for p in problems}
    problems += [p for p in schema_problems("estate", doc) if (p.line, p.col) not in covered]
    if problems:
        raise InputError(problems)
    problems = semantic_problems(doc)
    if problems:
        raise InputError(problems)
    data = copy.deepcopy(doc.data)
    return Estate(name=data["estate"], description=data.get("description", ""), source=doc.file, data=data)


def _id_problems(doc: Located) -> list[Any]:
    # YAML reads 111111111111 (unquoted) as a number; say so plainly, as the config does.
    problems = []
    for i, acct in enumerate(doc.data.get("accounts") or []):
        if isinstance(acct, dict) and isinstance(acct.get("id"), int) and not isinstance(acct.get("id"), bool):
            raw = doc.raw.get(("accounts", i, "id"), acct["id"])
            problems.append(doc.problem(("accounts", i, "id"),
                                        f"write the account id in quotes ('{raw}'): unquoted, YAML reads it "
                                        "as a number and can drop leading zeros"))
    return problems


def load_estate(path: Path | str) -> Estate:
    """Read, validate and build an estate from a YAML file."""
    return parse_estate(load_yaml(path))


def estate_from_text(text: str, name: str = "<estate>") -> Estate:
    """The same as `load_estate` for YAML held in memory."""
    return parse_estate(load_yaml_text(text, name))
