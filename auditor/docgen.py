"""Generated documentation blocks, kept in sync with the code by tests/test_docs.py.

`python -m auditor.docgen` rewrites the generated blocks in docs/ in place.
"""

from __future__ import annotations

import sys
from pathlib import Path

from auditor.collect.catalog import ACCOUNT_CALLS, CATALOG

BEGIN, END = "<!-- BEGIN GENERATED: {} -->", "<!-- END GENERATED: {} -->"


def collected_calls_table() -> str:
    """Markdown table of every AWS call the collector makes."""
    rows = ["| Service | Operation | IAM permission | Runs | Feeds |", "|---|---|---|---|---|"]
    for s in CATALOG:
        runs = s.for_each.describe if s.for_each else "once per account-region"
        rows.append(f"| {s.service} | {s.operation} | `{s.permission}` | {runs} | {s.resource_type} |")
    for s in ACCOUNT_CALLS:
        rows.append(f"| {s.service} | {s.operation} | `{s.permission}` | {s.note} | — |")
    return "\n".join(rows)


GENERATORS = {"collected-calls": collected_calls_table}


def render(text: str) -> str:
    """`text` with every generated block replaced by its current content."""
    for name, fn in GENERATORS.items():
        begin, end = BEGIN.format(name), END.format(name)
        if begin in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = f"{head}{begin}\n{fn()}\n{end}{tail}"
    return text


def main(docs: Path = Path("docs")) -> int:
    for path in sorted(docs.glob("*.md")):
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
