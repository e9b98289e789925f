"""AWS region names and their partitions, offline: botocore's endpoint data read as a file.

Config, waiver and estate validation need to know which region names exist and which
partition (aws, aws-us-gov, aws-cn ...) each belongs to; so does the collector. The answer
is botocore's ``endpoints.json``, found where botocore's own data loader finds it
(``AWS_DATA_PATH``, then ``~/.aws/models``, then the installed botocore's ``data/``; each as
``endpoints.json`` or ``endpoints.json.gz``) but read here as plain JSON: the commands that
only read evidence never import botocore (tests/test_imports.py). The answers are
botocore's, so they follow the installed botocore version, as collection does.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# The endpoint prefix of EC2's service model, whose endpoints botocore lists as its regions.
_EC2 = "ec2"


def _search_paths() -> list[Path]:
    """Where botocore's data loader looks, in its order."""
    paths = [Path(os.path.expanduser(os.path.expandvars(p)))
             for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p]
    paths.append(Path(os.path.expanduser("~")) / ".aws" / "models")
    spec = importlib.util.find_spec("botocore")   # locates the package without importing it
    if spec is not None and spec.submodule_search_locations:
        paths += [Path(p) / "data" for p in spec.submodule_search_locations]
    return paths


def _endpoint_data() -> dict[str, Any]:
    """The parsed ``endpoints.json`` botocore would use."""
    for folder in _search_paths():
        if not folder.is_dir():
            continue
        plain, packed = folder / "endpoints.json", folder / "endpoints.json.gz"
        if plain.is_file():
            return dict(json.loads(plain.read_bytes().decode("utf-8")))
        if packed.is_file():
            with gzip.open(packed, "rb") as stream:
                return dict(json.loads(stream.read().decode("utf-8")))
    raise FileNotFoundError("botocore's endpoint data (endpoints.json) was not found: is botocore installed?")


@dataclass(frozen=True)
class _Partition:
    name: str
    regions: frozenset[str]        # the regions the partition lists
    pattern: re.Pattern[str] | None  # the names of its regions, listed or not
    ec2: tuple[str, ...]           # the names of EC2's endpoints in it


@lru_cache(maxsize=1)
def _partitions() -> tuple[_Partition, ...]:
    """What this module needs of the endpoint data (the whole file is about 1 MB), in file order."""
    return tuple(_Partition(p["partition"], frozenset(p["regions"]),
                            re.compile(p["regionRegex"]) if "regionRegex" in p else None,
                            tuple(p["services"].get(_EC2, {}).get("endpoints", {})))
                 for p in _endpoint_data()["partitions"])


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region name in botocore's endpoint data (EC2's regional endpoints in every
    partition), for config validation."""
    return frozenset(name for p in _partitions() for name in p.ec2 if name in p.regions)


@lru_cache(maxsize=256)
def partition_of(region: str) -> str:
    """The AWS partition of a region name (aws, aws-us-gov, aws-cn ...); "" when unknown.

    As botocore decides it: the first partition that lists the region, or whose region
    pattern matches its name."""
    for p in _partitions():
        if region in p.regions or (p.pattern is not None and p.pattern.match(region)):
            return p.name
    return ""
