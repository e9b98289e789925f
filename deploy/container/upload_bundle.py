#!/usr/bin/env python3
"""Copy one finished evidence bundle to S3: s3://BUCKET/PREFIX/<run folder>/<path>.

    auditor-upload-bundle BUNDLE s3://BUCKET[/PREFIX] [--profile NAME] [--region REGION]

The auditor itself never writes to AWS (its collector's sessions refuse every non-read call)
and has no upload feature; the scheduled recipes (docs/deploy.md) run this helper after
`auditor scan` to keep each run's bundle in a bucket of the operator's choosing, with a plain
boto3 session (the task's or pod's own credentials, not an audited account's).

It refuses what is not a finished bundle: a folder without `bundle.json` (an interrupted or
failed scan), a file that `bundle.json` lists but that is missing or whose SHA-256 differs, a
file that `bundle.json` does not list, and any symbolic link or special file; nothing is
uploaded then. The bucket is checked before the first upload. `bundle.json` is uploaded last,
so a reader of the bucket that finds it knows every file it lists is already there.

Exit codes follow the auditor's (docs/cli.md): 0 uploaded, 2 not a finished bundle or a bad
destination (nothing uploaded), 6 the upload failed (a missing bucket, no permission, no
credentials: the message says which; `bundle.json` is then not uploaded)."""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INPUT, EXIT_OUTPUT = 0, 2, 6
MANIFEST = "bundle.json"
SIGNATURE = "bundle.sig"


class BundleError(Exception):
    """The folder is not a finished bundle: nothing was uploaded."""


class UploadError(Exception):
    """The destination refused or could not be reached."""


def _say(message: str, err: bool = False) -> None:
    """Print through the auditor's terminal-safe printer when it is installed (the image)."""
    try:
        from auditor.console import echo
    except ImportError:  # run from a checkout without the package: plain print
        print(message, file=sys.stderr if err else sys.stdout)
    else:
        echo(message, err=err)


def parse_destination(dest: str) -> tuple[str, str]:
    """`s3://bucket[/prefix]` -> (bucket, prefix without slashes at either end)."""
    if not dest.startswith("s3://"):
        raise BundleError(f"the destination must be s3://BUCKET[/PREFIX], not {dest!r}")
    bucket, _, prefix = dest[len("s3://"):].partition("/")
    if not bucket:
        raise BundleError(f"no bucket in {dest!r}")
    return bucket, prefix.strip("/")


def bundle_files(folder: Path) -> list[str]:
    """Every file of the finished bundle in `folder`, as sorted relative paths with
    `bundle.json` last, after checking each against the manifest (BundleError otherwise)."""
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a folder")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file() or manifest_path.is_symlink():
        raise BundleError(f"{folder} has no {MANIFEST}: not a finished bundle (an interrupted or failed "
                          "scan leaves none); nothing uploaded")
    try:
        manifest = json.loads(manifest_path.read_bytes())
        listed: dict[str, str] = manifest["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{manifest_path} is not a bundle manifest ({exc}); nothing uploaded") from exc
    present = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise BundleError(f"{path} is a link or a special file: a bundle holds only plain files; "
                              "nothing uploaded")
        if path.is_file():
            present.append(path.relative_to(folder).as_posix())
    extra = sorted(set(present) - set(listed) - {MANIFEST, SIGNATURE})
    if extra:
        raise BundleError(f"{folder / extra[0]} is not listed in {MANIFEST}: nothing uploaded")
    for rel, digest in sorted(listed.items()):
        path = folder / rel
        if rel not in present:
            raise BundleError(f"{path} is listed in {MANIFEST} but missing: nothing uploaded")
        if _sha256(path) != digest:
            raise BundleError(f"{path} does not have the SHA-256 {MANIFEST} records: nothing uploaded")
    return [*sorted(p for p in present if p != MANIFEST), MANIFEST]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload_bundle(folder: Path, bucket: str, prefix: str, session: Any) -> list[str]:
    """Upload the finished bundle in `folder` to s3://bucket/prefix/<folder name>/ with a
    client of `session` (a plain boto3 Session); returns the keys written, `bundle.json`'s
    last. BundleError before anything is written; UploadError when S3 refuses."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    files = bundle_files(folder)
    base = "/".join(part for part in (prefix, folder.resolve().name) if part)
    s3 = session.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise UploadError(f"the bucket {bucket} does not exist: nothing uploaded") from exc
        if code in ("403", "AccessDenied", "Forbidden"):
            raise UploadError(f"no access to the bucket {bucket} with these credentials: nothing uploaded") from exc
        raise UploadError(f"the bucket {bucket} cannot be used ({code or exc}): nothing uploaded") from exc
    except BotoCoreError as exc:
        raise UploadError(f"cannot reach S3 for the bucket {bucket} ({exc}): nothing uploaded") from exc
    written = []
    for rel in files:
        key = f"{base}/{rel}"
        content_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        try:  # a managed transfer: multipart for a large snapshot file
            s3.upload_file(str(folder / rel), bucket, key, ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise UploadError(f"uploading {rel} to s3://{bucket}/{key} failed ({exc}); {len(written)} of "
                              f"{len(files)} files written, {MANIFEST} not uploaded") from exc
        written.append(key)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auditor-upload-bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the bundle folder (`auditor scan --out`)")
    parser.add_argument("destination", help="s3://BUCKET[/PREFIX]")
    parser.add_argument("--profile", help="AWS profile (default: the environment's credentials)")
    parser.add_argument("--region", help="AWS region of the client (default: the environment's)")
    args = parser.parse_args(argv)
    try:
        bucket, prefix = parse_destination(args.destination)
        bundle_files(args.bundle)  # refuse early, before credentials are looked for
        import boto3

        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        keys = upload_bundle(args.bundle, bucket, prefix, session)
    except BundleError as exc:
        _say(f"error: {exc}", err=True)
        return EXIT_INPUT
    except UploadError as exc:
        _say(f"error: {exc}", err=True)
        return EXIT_OUTPUT
    except Exception as exc:  # no credentials, a bad profile: botocore's own errors
        from botocore.exceptions import BotoCoreError

        if not isinstance(exc, BotoCoreError):
            raise
        _say(f"error: {exc}; nothing uploaded", err=True)
        return EXIT_OUTPUT
    _say(f"uploaded {len(keys)} files to s3://{bucket}/{keys[-1].rsplit('/', 1)[0]}/")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
