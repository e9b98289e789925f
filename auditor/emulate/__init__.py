"""The AWS emulator: declarative estates built in moto, for the demo and the tests.

    estate = load_estate(demo_estate_path())      # YAML -> validated Estate
    with EmulatedAws(mode="server") as aws:      # moto, in-process or over HTTP
        ids = seed(estate, aws)                  # boto3 builds the estate; ids by name
        factory = aws.session_factory()          # the collector's I/O seam, pointed at moto

This package (with `auditor.collect`) is the only one that imports boto3 or moto, and it
imports moto only when an emulator is entered: moto is an optional dependency.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from auditor.emulate.estate import Estate, estate_from_text, load_estate
from auditor.emulate.host import EmulatedAws
from auditor.emulate.seed import EmulatorRequired, SeedResult, seed

__all__ = ["EmulatedAws", "Estate", "EmulatorRequired", "SeedResult", "demo_config_path", "demo_estate_path", "emulator_missing",
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
