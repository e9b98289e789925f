"""Which regions a run audits, and where that choice came from.

Region names and their partitions (botocore's endpoint data, read without importing botocore)
are `auditor.partitions`; this module decides the run's regions from them.

Which regions, in the order AWS tools use (nothing guessed, the source always recorded):
1. the config's ``regions:`` (a list, or ``all``);
2. else ``AWS_REGION``, then ``AWS_DEFAULT_REGION``, then the ``region`` of the AWS profile
   in use (``AWS_PROFILE``, or the discovery's ``management_profile``) in the AWS config file;
3. else an input error: the tool never falls back to us-east-1 on its own.

``regions: all`` lists every region enabled in each account with ec2:DescribeRegions, called
in a region of the caller's partition: the first region of 2. (aws, aws-us-gov, aws-cn ...
each have their own regions, endpoints and credentials). Account-wide calls (STS,
Organizations, DescribeRegions) go to the run's *home region*: the first configured region,
or the one from 2. for ``all``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError

from auditor.errors import InputError, Problem
from auditor.partitions import known_regions, partition_of


@dataclass(frozen=True)
class RegionChoice:
    """The regions a run audits, where that choice came from, and where account-wide calls go."""

    regions: tuple[str, ...] | str  # region names, or "all"
    source: str                     # e.g. "config (regions:)", "environment variable AWS_REGION"
    home: str                       # region of the account-wide calls (STS, Organizations, DescribeRegions)
    partition: str

    def meta(self) -> dict[str, Any]:
        return {"regions": self.regions if isinstance(self.regions, str) else list(self.regions),
                "source": self.source, "home_region": self.home, "partition": self.partition}

    def describe(self) -> str:
        """One line for the console."""
        return describe_choice(self.meta())


def describe_choice(meta: Any) -> str:
    """The console line for a manifest's ``region_choice`` (see `RegionChoice.meta`)."""
    regions = meta.get("regions")
    which = "every enabled region" if regions == "all" else ", ".join(map(str, regions or ()))
    return (f"regions: {which} (from {meta.get('source')}); partition {meta.get('partition')}, "
            f"account-wide calls in {meta.get('home_region')}")


def environment_region(profile: str | None = None) -> tuple[str, str] | None:
    """(region, where it came from) from AWS_REGION, AWS_DEFAULT_REGION or the profile; else None."""
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(var, "").strip()
        if value:
            return value, f"environment variable {var}"
    try:
        session = botocore.session.Session(profile=profile)
        name = session.profile or "default"
        value = str(session.get_scoped_config().get("region") or "").strip()
    except BotoCoreError:
        return None  # a missing profile is reported by the credential chain, with its name
    return (value, f"the region of AWS profile '{name}'") if value else None


def _problem(config_source: str, message: str) -> InputError:
    return InputError([Problem(config_source, 1, 1, "regions", message)])


def resolve_regions(configured: tuple[str, ...] | str, config_source: str,
                    profile: str | None = None) -> RegionChoice:
    """The run's regions (see the module docstring). Raises InputError when no region is given
    anywhere, or when the environment names an unknown region."""
    if isinstance(configured, tuple) and configured:
        return RegionChoice(configured, "the config (regions:)", configured[0], partition_of(configured[0]))
    found = environment_region(profile)
    if found is None:
        need = ("regions: all needs a region to start from, to know the partition (aws, aws-us-gov, aws-cn ...) "
                "whose regions to list" if configured == "all" else "no region to audit: the config has no regions:")
        raise _problem(config_source, f"{need}, and none of AWS_REGION, AWS_DEFAULT_REGION or the AWS profile's "
                       "region is set; give --region, set regions: [...] in the config, or set AWS_REGION (the tool does "
                       "not guess us-east-1)")
    region, source = found
    if region not in known_regions():
        from auditor.validation import did_you_mean  # noqa: PLC0415 - keeps this module light

        raise _problem(config_source, f"'{region}' (from {source}) is not a known AWS region name"
                       f"{did_you_mean(region, known_regions())}")
    if configured == "all":
        return RegionChoice("all", f"the config (regions: all), listed from {region} ({source})", region,
                            partition_of(region))
    return RegionChoice((region,), source, region, partition_of(region))
