"""Derived attributes that rule packs read, by area. Importing this package registers them
(`auditor.rules.attributes` imports it last, so every lookup sees them)."""

from auditor.rules.derived import endpoints, exposure, network, reachability  # noqa: F401  (registration)
