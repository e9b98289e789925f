"""Derived attributes for the endpoints rules."""

from __future__ import annotations
