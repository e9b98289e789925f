"""Region names botocore knows, across every partition (no network, no AWS call)."""

from __future__ import annotations

from functools import lru_cache

import botocore.session


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region name in botocore's endpoint data, for config validation."""
    session = botocore.session.get_session()
    names: set[str] = set()
    for partition in session.get_available_partitions():
        names.update(session.get_available_regions("ec2", partition_name=partition))
    return frozenset(names)
