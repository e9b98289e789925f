"""Snapshots: the raw evidence of one run, on disk, hashed, loadable offline.

Layout of a snapshot directory::

    manifest.json                     run metadata, every call, every error, SHA-256 per file
    records/<account>/<region>/<service>/<Operation>[~<id>~<hash>].json[.gz]

A record file holds one call: its parameters and every response page as AWS sent it
(ResponseMetadata stripped). Nothing else in the tool reads AWS; everything after this
point is pure.
"""

from auditor.snapshot.records import CallError, CallRecord, canonical_json, jsonable

__all__ = ["CallError", "CallRecord", "canonical_json", "jsonable"]
