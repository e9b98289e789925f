"""Derived attributes for the network rules."""

from __future__ import annotations
