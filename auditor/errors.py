"""The tool's error hierarchy.

    AuditorError                 base of every error this tool raises on purpose
    ├── InputError               our inputs are wrong (config, estate, waivers ...): exit 2
    │   └── carries Problem(file, line, col, path, message) for each problem, all at once
    ├── SnapshotError            a snapshot cannot be trusted (missing, tampered, wrong version)
    └── ReadOnlyViolation        the read-only guard refused an AWS operation

AWS failures during collection are *not* exceptions at this level: they are recorded as
collection errors in the snapshot (fail loudly on our inputs, softly on AWS).
"""

from __future__ import annotations

from dataclasses import dataclass


class AuditorError(Exception):
    """Base class of every deliberate error."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one input file, located as precisely as we can."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        return f"{where}  {self.path}: {self.message}" if self.path else f"{where}  {self.message}"


class InputError(AuditorError):
    """One or more problems in an input file; every problem is listed, none is hidden."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(p.render() for p in self.problems))


class SnapshotError(AuditorError):
    """A snapshot is missing, incomplete, of an unknown version, or fails its hashes."""


class ReadOnlyViolation(AuditorError):
    """The collector was asked to make a call that is not a read."""
