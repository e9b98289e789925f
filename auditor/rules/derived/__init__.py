"""Derived attributes that rule packs read, by area, and their registry.

Each module lists its attributes in ``ATTRIBUTES``; `DERIVED` is built from those lists, in
this order (which is the order of the generated docs). Adding a module means adding it
here. The modules use only the seam, `auditor.rules.derive`, besides the model and the
analyzers; `auditor.rules.attributes` reads `DERIVED`.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor.rules.derive import DerivedAttribute, registry
from auditor.rules.derived import core, endpoints, exposure, network, peering, reachability

MODULES = (core, endpoints, exposure, network, reachability, peering)

# (resource type, name) -> attribute, read-only.
DERIVED: Mapping[tuple[str, str], DerivedAttribute] = registry(*(m.ATTRIBUTES for m in MODULES))
