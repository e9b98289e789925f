"""Generated documentation blocks, kept in sync with the code by tests/test_docs.py.

`python -m auditor.docgen` rewrites the generated blocks in docs/ in place, the closed
lists the published JSON schemas repeat for editors (report formats, report styles) from
their registries (auditor/report/writers/, reports/templates/styles/), and the role
templates under deploy/role/ (auditor/collect/role_templates.py). The table of resource
types the plan readers model (docs/plans.md) comes from their `SUPPORTED` mappings; the
explanation codes and the parity with Reachability Analyzer (docs/reachability.md) from
`auditor.analyze.explain` and `auditor.analyze.parity`.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from auditor.collect.catalog import ACCOUNT_CALLS, CATALOG, OPTIONAL_CALLS, allowed_operations
from auditor.model.registry import REGISTRY, Computed, Field, Itself, NoArn, NoVpc, OwnArn, Through, VpcRule

BEGIN, END = "<!-- BEGIN GENERATED: {} -->", "<!-- END GENERATED: {} -->"


def collected_calls_table() -> str:
    """Markdown table of every AWS call the collector makes."""
    rows = ["| Service | Operation | IAM permission | Runs | Feeds |", "|---|---|---|---|---|"]
    for s in CATALOG:
        runs = s.for_each.describe if s.for_each else "once per account-region"
        rows.append(f"| {s.service} | {s.operation} | `{s.permission}` | {runs} | {s.resource_type} |")
    for s in OPTIONAL_CALLS:
        runs = s.from_listings.describe if s.from_listings else "once per account-region"
        rows.append(f"| {s.service} | {s.operation} | `{s.permission}` | {s.note}; {runs} | {s.resource_type} |")
    for s in ACCOUNT_CALLS:
        rows.append(f"| {s.service} | {s.operation} | `{s.permission}` | {s.note} | — |")
    return "\n".join(rows)


def allowlist_size() -> str:
    """The sentence stating how many operations the read-only guard lets through."""
    return (f"The guard lets {len(allowed_operations())} operations through, all derived from the catalogue "
            "(one list, no second hand-kept one).")


def _vpc_text(rule: VpcRule) -> str:
    if isinstance(rule, Itself):
        return "itself"
    if isinstance(rule, Field):
        return f"its `{rule.name}`"
    if isinstance(rule, Through):
        return "the VPC of " + ", else ".join(f"its `{v.field}` ({v.type_name})" for v in rule.vias)
    if isinstance(rule, Computed):
        return (rule.fn.__doc__ or rule.fn.__name__).strip().splitlines()[0]
    assert isinstance(rule, NoVpc)
    return f"none: {rule.reason}"


def resource_types_table() -> str:
    """Markdown table of the resource registry (auditor/model/registry.py): every type, the
    calls that feed it, how its VPC is found and its ARN."""
    rows = ["| Type | Fed by | VPC | ARN |", "|---|---|---|---|"]
    for entry in REGISTRY:
        calls = ", ".join(f"{c.service}:{c.operation}" for c in entry.calls)
        if isinstance(entry.arn, OwnArn):
            arn = "the one AWS gives"
        elif isinstance(entry.arn, NoArn):
            arn = f"none: {entry.arn.reason}"
        else:
            arn = f"`arn:PARTITION:ec2:REGION:ACCOUNT:{entry.arn}/ID`"
        rows.append(f"| `{entry.name}` | {calls} | {_vpc_text(entry.vpc)} | {arn} |")
    return "\n".join(rows)


def report_styles_table() -> str:
    """Markdown table of the report styles: one row per file of reports/templates/styles/, as
    auditor/report/wording.py reads it (so a new style file is documented by regenerating)."""
    from auditor.report.wording import COLOUR_KEYS, load_style, load_wording, style_names

    default = load_wording().pdf_default_style
    rows = ["| `--style` | Regime (PDF) | Frameworks first | Environment | Sign-off roles | Colours (accent, heading) |",
            "|---|---|---|---|---|---|"]
    for name in style_names():
        s = load_style(name)
        label = f"`{name}`" + (" (the PDF's default)" if name == default else "")
        first = ", ".join(f"`{fw}`" for fw in s.frameworks_first)
        roles = "; ".join(s.signoff_roles)
        colours = ", ".join(f"`{s.colours[k]}`" for k in COLOUR_KEYS)
        cells = (label, s.pdf["regime"], first, s.pdf["environment"], roles, colours)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def _reader_supported(module: str) -> Mapping[str, str]:
    """A plan reader's `SUPPORTED` (source type -> model type, in the reader's order)."""
    supported: Mapping[str, str] = importlib.import_module(module).SUPPORTED
    return supported


def plan_resources_table(terraform: Mapping[str, str] | None = None,
                         cloudformation: Mapping[str, str] | None = None) -> str:
    """Markdown table of the resource types the plan readers model (docs/plans.md): one row per
    model type of the registry, the Terraform and CloudFormation types read into it (each
    reader's `SUPPORTED`, source type -> model type, in its order). A model type fed only by
    calls no plan answers (`auditor.iac.base.NOT_COVERED`) says so; any other type neither
    reader reads says "not read". The mappings are the readers' unless given."""
    from auditor.iac.base import NOT_COVERED

    tf = terraform if terraform is not None else _reader_supported("auditor.iac.terraform")
    cfn = cloudformation if cloudformation is not None else _reader_supported("auditor.iac.cloudformation")
    known = [e.name for e in REGISTRY]
    wrong = sorted({m for m in (*tf.values(), *cfn.values()) if m not in known})
    if wrong:
        raise ValueError(f"plan readers map to model types the registry lacks: {wrong}")
    snapshot_only = {e.name for e in REGISTRY if all(c.call in NOT_COVERED for c in e.calls)}

    def cell(mapping: Mapping[str, str], model_type: str) -> str:
        names = [f"`{source}`" for source, target in mapping.items() if target == model_type]
        if names:
            return ", ".join(names)
        return "never: from a snapshot only" if model_type in snapshot_only else "not read"

    rows = ["| Model type | Terraform (`terraform show -json`) | CloudFormation |", "|---|---|---|"]
    for model_type in known:
        rows.append(f"| `{model_type}` | {cell(tf, model_type)} | {cell(cfn, model_type)} |")
    return "\n".join(rows)


def plan_not_covered_list() -> str:
    """The calls no plan or template answers (`auditor.iac.base.NOT_COVERED`), as a Markdown
    list naming the model types they feed."""
    from auditor.iac.base import NOT_COVERED

    feeds = {c.call: e.name for e in REGISTRY for c in e.calls}
    return "\n".join(f"- {service}:{operation} (`{feeds.get((service, operation), '-')}`)"
                     for service, operation in sorted(NOT_COVERED))


def _row(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def explanation_codes_table() -> str:
    """Markdown table of the explanation codes the reachability analysis emits
    (`auditor.analyze.explain.CODES`), in their order."""
    from auditor.analyze.explain import CODES

    rows = ["| Code | Whose | Kind | Side | Meaning |", "|---|---|---|---|---|"]
    for c in CODES.values():
        rows.append(_row(f"`{c.name}`", "AWS" if c.aws else "ours", c.kind, c.side, c.meaning))
    return "\n".join(rows)


def parity_codes_table() -> str:
    """Markdown table of every Reachability Analyzer explanation code (`auditor.analyze.parity.AWS_CODES`)
    with our status, and a line counting them."""
    from auditor.analyze.parity import AWS_CODES, STATUSES

    counts = ", ".join(f"{sum(c.status == s for c in AWS_CODES)} {s}" for s in STATUSES)
    rows = [f"{len(AWS_CODES)} codes: {counts}.", "", "| Code | AWS section | What it says | Status | Here |",
            "|---|---|---|---|---|"]
    for c in AWS_CODES:
        rows.append(_row(f"`{c.name}`", c.section, c.meaning, c.status, c.reason))
    return "\n".join(rows)


def parity_components_table() -> str:
    """Markdown table of the components Reachability Analyzer supports (`auditor.analyze.parity.COMPONENTS`)
    and how far the analysis covers each."""
    from auditor.analyze.parity import COMPONENTS

    rows = ["| Component | Its roles there | Covered here | How |", "|---|---|---|---|"]
    for c in COMPONENTS:
        rows.append(_row(c.name, ", ".join(c.roles), c.covered, c.how))
    return "\n".join(rows)


def parity_beyond_table() -> str:
    """Markdown table of what the analysis covers that Reachability Analyzer's documentation says
    it does not (`auditor.analyze.parity.BEYOND`), each with the page."""
    from auditor.analyze.parity import BEYOND

    rows = ["| Here | Reachability Analyzer's documentation | Page |", "|---|---|---|"]
    for b in BEYOND:
        rows.append(_row(b.what, b.theirs, f"<{b.url}>"))
    return "\n".join(rows)


GENERATORS = {"collected-calls": collected_calls_table, "allowlist-size": allowlist_size,
              "resource-types": resource_types_table, "report-styles": report_styles_table,
              "plan-resources": plan_resources_table, "plan-not-covered": plan_not_covered_list,
              "explanation-codes": explanation_codes_table, "parity-codes": parity_codes_table,
              "parity-components": parity_components_table, "parity-beyond": parity_beyond_table}


def _schema_lists() -> list[tuple[str, str, Callable[[], tuple[str, ...]]]]:
    """(schema file, the property whose enum is a registry's names, the names)."""
    from auditor.report.wording import style_names
    from auditor.report.writers import scan_formats
    return [("audit-config.schema.json", "formats", scan_formats), ("profile.schema.json", "style", style_names)]


def render_schema(text: str, prop: str, names: tuple[str, ...]) -> str:
    """`text` (a schema) with the enum of property `prop` listing `names`, nothing else changed."""
    pattern = re.compile(r'("' + re.escape(prop) + r'": \{[^\n]*?"enum": )\[[^\]]*\]')
    found = pattern.findall(text)
    if len(found) != 1:
        raise ValueError(f"the schema has {len(found)} enums of {prop!r}, expected one")
    return pattern.sub(lambda m: m.group(1) + json.dumps(list(names)), text)


def update_schemas(folder: Path = Path(__file__).parent / "schemas") -> list[Path]:
    """Rewrite the registry-derived enums of the published schemas; the files changed."""
    changed = []
    for name, prop, names in _schema_lists():
        path = folder / name
        old = path.read_text(encoding="utf-8")
        new = render_schema(old, prop, names())
        if new != old:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def update_role_templates(folder: Path) -> list[Path]:
    """Rewrite the role templates under `folder` (deploy/role/) that differ from what
    `auditor permissions --format cloudformation|terraform` generates; the files changed."""
    from auditor.collect.role_templates import deploy_files

    changed = []
    for name, text in deploy_files().items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


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
    for path in update_schemas():
        print(f"updated {path}")
    for path in update_role_templates(docs.parent / "deploy" / "role"):
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
