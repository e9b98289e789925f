"""The outside-data check: public data with known answers, read from a folder given on the
command line (`make verify-outside FIXTURES=DIR`; CI passes ../shared/fixtures). That data is
never copied into this repository: it keeps its own notices where it lives.

    python -m pytest verify_outside --outside-data DIR

DIR must hold `data-perimeter-policies/` (AWS's aws-samples/data-perimeter-policy-examples:
`vpc_endpoint_policies/*.json`, `resource_control_policies/*.json` and its NOTICE.md) and
`external-oracles/` (policy corpora with known answers: quacky/, iamspy/, parliament/; the
`oracles_dir` fixture). A missing or incomplete folder is a usage error naming what is
missing, never a skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PERIMETER = "data-perimeter-policies"
ORACLES = "external-oracles"
ORACLE_CORPORA = ("quacky", "iamspy", "parliament")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--outside-data", metavar="DIR", default=None,
                     help="folder of outside data with known answers (e.g. ../shared/fixtures)")


def outside_folder(config: pytest.Config) -> Path:
    given = config.getoption("--outside-data")
    if not given:
        raise pytest.UsageError("give --outside-data DIR: the folder holding data-perimeter-policies/ "
                                "(make verify-outside FIXTURES=DIR)")
    root = Path(given).resolve()
    missing = [p for p in (root / PERIMETER / "NOTICE.md", root / PERIMETER / "vpc_endpoint_policies",
                           root / PERIMETER / "resource_control_policies",
                           *(root / ORACLES / c for c in ORACLE_CORPORA)) if not p.exists()]
    if missing:
        raise pytest.UsageError(f"--outside-data {given}: not an outside-data folder: missing "
                                + ", ".join(str(m) for m in missing))
    return root


def pytest_configure(config: pytest.Config) -> None:
    outside_folder(config)   # a missing or wrong folder stops the run at once, with its reason


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    root = outside_folder(metafunc.config) / PERIMETER
    for argument, folder in (("endpoint_policy", "vpc_endpoint_policies"), ("rcp", "resource_control_policies")):
        if argument in metafunc.fixturenames:
            names = sorted(p.name for p in (root / folder).glob("*.json"))
            if not names:
                raise pytest.UsageError(f"{root / folder} holds no *.json policy")
            metafunc.parametrize(argument, names)


@pytest.fixture(scope="session")
def perimeter_dir(request: pytest.FixtureRequest) -> Path:
    return outside_folder(request.config) / PERIMETER


@pytest.fixture(scope="session")
def oracles_dir(request: pytest.FixtureRequest) -> Path:
    """`external-oracles/` of the outside-data folder (checked at start-up: missing is a usage error)."""
    return outside_folder(request.config) / ORACLES
