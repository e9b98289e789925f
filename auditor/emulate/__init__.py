"""The AWS emulator: declarative estates built in moto, for the demo and the tests.

    estate = load_estate(demo_estate_path())      # YAML -> validated Estate
    with EmulatedAws(mode="server") as aws:      # moto, in-process or over HTTP
        ids = seed(estate, aws)                  # boto3 builds the estate; ids by name
        factory = aws.session_factory()          # the collector's I/O seam, pointed at moto

This package (with `auditor.collect`) is the only one that imports boto3 or moto, and it
imports moto only when an emulator is entered: moto is an optional dependency.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.emulate.estate import Estate, estate_from_text, load_estate
from auditor.emulate.host import EmulatedAws
from auditor.emulate.seed import EmulatorRequired, SeedResult, seed

if TYPE_CHECKING:
    from auditor.config import AuditConfig

__all__ = ["DEMO_DATED_AS_OF", "EmulatedAws", "Estate", "EmulatorRequired", "SeedResult", "dated_demo_config",
           "demo_config_path", "demo_estate_path", "emulator_missing",
           "estate_from_text", "load_estate", "seed"]


def _sample(relative: str) -> Path:
    # An installed wheel carries sample_configs under auditor/_builtin (pyproject's hatch
    # force-include); a source checkout has them at the top of the repository.
    packaged = resources.files("auditor").joinpath("_builtin", "sample_configs", relative)
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "sample_configs" / relative
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"sample file {relative} is neither in the installed package ({packaged}) "
                            f"nor in a source checkout ({checkout})")


def emulator_missing() -> str | None:
    """Why the emulator cannot run (moto, the `demo` extra, is not installed), else None."""
    try:
        import moto  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def demo_estate_path() -> Path:
    """The demo estate (two accounts, two regions, planted violations)."""
    return _sample("estates/demo-bank.yaml")


def demo_config_path() -> Path:
    """The audit config that audits the demo estate."""
    return _sample("demo-audit.yaml")


# The day the demo's waivers and management responses are dated as of (their files in
# sample_configs/): the demo re-dates them to the day it runs (`dated_demo_config`).
DEMO_DATED_AS_OF = date(2026, 12, 6)
_DATE_LINE = re.compile(r"^(\s*(?:-\s+)?(?:created|expires|target_date|date):\s*)(\d{4}-\d{2}-\d{2})\b", re.M)


def redated(text: str, days: int) -> str:
    """`text` (a waivers or responses file) with every `created`, `expires`, `target_date` and
    retest `date` moved by `days`; nothing else changes (lines stay where they were)."""
    return _DATE_LINE.sub(lambda m: m.group(1) + (date.fromisoformat(m.group(2)) + timedelta(days=days)).isoformat(),
                          text)


def dated_demo_config(config: AuditConfig, folder: Path, today: date) -> AuditConfig:
    """The demo's config with its waivers and responses files re-dated from DEMO_DATED_AS_OF
    to `today`, written into `folder` under their own names.

    The demo is judged on the day it runs; a waiver lasts at most a year and a response's
    target date is fixed, so files with fixed dates would read differently (a waiver expired,
    a response overdue) as the months pass. Re-dated, the demo shows the same register on any
    day: the waiver three weeks old, one response overdue, one due in months. The copies are
    what the evidence bundle keeps in `inputs/`, so `auditor verify` re-evaluates with them."""
    days = (today - DEMO_DATED_AS_OF).days

    def copy(source: Path | None) -> Path | None:
        if source is None:
            return None
        target = folder / source.name
        target.write_text(redated(source.read_text(encoding="utf-8"), days), encoding="utf-8")
        return target

    return dataclasses.replace(config, waivers=copy(config.waivers), responses=copy(config.responses))
