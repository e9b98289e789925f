"""Fetch the schemas pinned in requirements/schemas.lock into .venv/schemas (`make test` runs it).

Each section of the lock names a tarball (url), its SHA-512 (base64, as the npm registry's
"integrity") and the member to extract; the member is written as .venv/schemas/<section>
beside a stamp holding the tarball's hash, so a later run with the same pin downloads nothing.
A tarball whose hash differs from the pin is refused (exit 1), and nothing is written.

    python requirements/fetch_schemas.py [--lock FILE] [--dest DIR]
"""

from __future__ import annotations

import argparse
import base64
import configparser
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60   # seconds for one download


def fetch(name: str, url: str, sha512: str, member: str, dest: Path) -> bool:
    """Fetch one schema into dest/name unless the same pin is already there; True when fetched."""
    target, stamp = dest / name, dest / f"{name}.sha512"
    if target.is_file() and stamp.is_file() and stamp.read_text(encoding="ascii").strip() == sha512:
        return False
    with urllib.request.urlopen(url, timeout=TIMEOUT) as reply:   # noqa: S310 (an https URL from the lock)
        data = reply.read()
    got = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if got != sha512:
        raise SystemExit(f"fetch_schemas: {url} has SHA-512 {got}, the lock pins {sha512}: refused")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        try:
            entry = tar.getmember(member)
        except KeyError:
            raise SystemExit(f"fetch_schemas: {url} holds no {member}") from None
        body = tar.extractfile(entry)
        if body is None:
            raise SystemExit(f"fetch_schemas: {member} in {url} is not a file")
        content = body.read()
    dest.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(content)
    partial.replace(target)
    stamp.write_text(sha512 + "\n", encoding="ascii")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements" / "schemas.lock")
    parser.add_argument("--dest", type=Path, default=ROOT / ".venv" / "schemas")
    args = parser.parse_args(argv)
    lock = configparser.ConfigParser(interpolation=None)
    if not lock.read(args.lock, encoding="utf-8"):
        print(f"fetch_schemas: no lock file {args.lock}", file=sys.stderr)
        return 1
    for name in lock.sections():
        section = lock[name]
        if fetch(name, section["url"], section["sha512"], section["member"], args.dest):
            print(f"fetch_schemas: {name} from {section['url']} (SHA-512 checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
