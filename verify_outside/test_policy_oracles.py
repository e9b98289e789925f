"""The endpoint-policy analyzer against z3 and the policy corpora with known answers (outside
data: quacky, IAMSpy, parliament and AWS's data-perimeter policies, read from
`--outside-data DIR`). The same comparison as `python verify_outside/policies.py DIR`, which
prints one line per policy, pair and case; here it must find no disagreement.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from policies import every_line


def test_analyzer_z3_and_the_corpora_agree(oracles_dir: Path) -> None:
    lines = list(every_line(oracles_dir.parent))
    verdicts = Counter(verdict for _, _, verdict, _ in lines)
    disagreements = [f"{corpus} {what}: {reason}" for corpus, what, verdict, reason in lines if verdict == "DISAGREE"]
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(disagreements[:30])
    per_corpus = Counter(corpus for corpus, _, verdict, _ in lines if verdict == "AGREE")
    # Every corpus contributes agreements; the policies themselves are the bulk.
    assert {"quacky", "iamspy", "parliament", "data-perimeter", "quacky-relations", "parliament-lint"} <= set(per_corpus)
    assert verdicts["AGREE"] >= 300
