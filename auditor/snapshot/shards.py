"""Shards: which accounts one of N collection runs takes (``--shard i/N``).

An account's shard is a function of its id and N only: the first 8 bytes of the SHA-256 of
the account id, as a number, modulo N, plus one. It does not depend on the other accounts,
their order or their number, so an account joining (or leaving) the organisation never moves
any other account to another shard: runs repeated on a schedule keep each account on the same
machine, and shards collected at different times still partition the same account list. (An
index into the sorted account list would move every account after a newcomer.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError

if TYPE_CHECKING:
    from auditor.config import AuditConfig

__all__ = ["METHOD", "Shard", "ShardError", "ShardUnusable", "check_shardable", "parse_shard", "shard_of"]

METHOD = "sha256(account id)[:8] mod N + 1"
_FORM = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(AuditorError):
    """A ``--shard`` value that is not ``i/N`` with 1 <= i <= N, or (`ShardUnusable`) a
    config whose accounts cannot be split."""


def shard_of(account_id: str, count: int) -> int:
    """The shard (1..count) `account_id` belongs to; see the module docstring."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, account_id: str) -> bool:
        return shard_of(account_id, self.count) == self.index

    def split(self, account_ids: Iterable[str]) -> tuple[list[str], dict[int, list[str]]]:
        """(this shard's accounts, the other shards' accounts by shard), each sorted."""
        mine: list[str] = []
        others: dict[int, list[str]] = {}
        for acct in sorted(set(account_ids)):
            j = shard_of(acct, self.count)
            if j == self.index:
                mine.append(acct)
            else:
                others.setdefault(j, []).append(acct)
        return mine, dict(sorted(others.items()))

    def meta(self, account_ids: Iterable[str]) -> dict[str, Any]:
        """The manifest's ``shard`` section of a shard's snapshot."""
        mine, others = self.split(account_ids)
        return {"index": self.index, "count": self.count, "method": METHOD, "accounts": mine,
                "other_shards": [{"index": j, "accounts": ids} for j, ids in others.items()]}

    def elsewhere(self, account_id: str) -> str:
        """Why `account_id`, of another shard, is not in this shard's snapshot."""
        j = shard_of(account_id, self.count)
        return (f"not collected in this snapshot: the account belongs to shard {j}/{self.count} "
                f"(this is shard {self}); merge the shards (auditor merge-snapshots) to assess it")


def parse_shard(text: str) -> Shard:
    """``i/N`` as a `Shard`; `ShardError` saying what is wrong otherwise."""
    m = _FORM.match(text or "")
    if not m:
        raise ShardError(f"--shard {text!r} is not of the form i/N (e.g. 2/3: the second of three shards)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1:
        raise ShardError(f"--shard {text!r}: the number of shards N must be at least 1")
    if not 1 <= index <= count:
        raise ShardError(f"--shard {text!r}: the shard i must be between 1 and {count}")
    return Shard(index, count)


class ShardUnusable(ShardError):
    """``--shard`` with N > 1 where the accounts cannot be split (the caller's own account,
    or accounts the config names without an id)."""


def check_shardable(config: AuditConfig, shard: Shard) -> None:
    """`ShardUnusable` when `config`'s accounts cannot be split into `shard.count` shards."""
    if shard.count == 1:
        return
    if config.discovery is None and not config.accounts:
        raise ShardUnusable(f"--shard {shard}: without accounts or organization_discovery in the config the run "
                            "audits the caller's own account only, which cannot be split into shards")
    unnamed = [a.name or a.profile or "?" for a in config.accounts if not a.id] if config.discovery is None else []
    if unnamed:
        raise ShardUnusable(f"--shard {shard}: every account needs its id in the config to be placed in a shard "
                            f"(no id: {', '.join(unnamed)})")
