"""Derived attributes for the exposure rules."""

from __future__ import annotations
