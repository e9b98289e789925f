"""OSCAL assessment results (findings.oscal.json), built and validated with
compliance-trestle's OSCAL models (the ``oscal`` extra: ``pip install
'private-network-auditor[oscal]'``). Without trestle the writer raises ReportUnavailable naming
the extra; the other formats are still written.

One result for the run:

- ``reviewed-controls``: per framework of findings.json, its controls (``include-controls``);
- ``observations``: one per finding of findings.json (rule x resource), its message, status,
  rule, resource and fingerprint as props, and a ``relevant-evidence`` per snapshot record the
  finding's evidence cites: ``href`` the record in the bundle (``snapshot/records/...``), its
  SHA-256 from the snapshot manifest in the props (``sha256``) and the description; plus one
  observation per gap of the run (findings.json ``not_assessed``);
- ``findings``: one per framework control, target ``objective-id`` the control, status
  ``satisfied`` only for a PASS control. FAIL and WAIVED are ``not-satisfied`` (reason ``fail``);
  ERROR (not assessed) is ``not-satisfied`` with reason ``other`` and an ``assessment-status``
  prop ``not-assessed``; NOT_APPLICABLE is ``not-satisfied``, reason ``other``, implementation
  status ``not-applicable``: nothing assessed is never "satisfied". ``related-observations``
  link the observations of the control's rules.

OSCAL has no assessment plan here: ``import-ap`` points at the bundle's findings.json, which
records what the assessment covered (config digest, profile, packs, scope). Times come from
findings.json (the snapshot's start and finish), uuids are uuid5 of the findings.json bytes,
fingerprints and control ids, keys sorted: the same findings.json gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from auditor.report.writers import FindingsBytes, ReportInputs, ReportUnavailable, Writer, streamed
from auditor.report.writers._times import parse_utc

if TYPE_CHECKING:
    from auditor.report.model import ControlView, FindingView, FrameworkView, NotAssessed, ReportModel

INSTALL_HINT = "pip install 'private-network-auditor[oscal]'"
NS = "https://example.invalid/private-network-auditor"   # the namespace of this tool's props
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, NS + "/oscal")
IMPORT_AP = "findings.json"
# A control status -> (objective state, reason, implementation-status state or None)
CONTROL_STATE: dict[str, tuple[str, str, str | None]] = {
    "PASS": ("satisfied", "pass", None),
    "FAIL": ("not-satisfied", "fail", None),
    "WAIVED": ("not-satisfied", "fail", None),
    "ERROR": ("not-satisfied", "other", None),
    "NOT_APPLICABLE": ("not-satisfied", "other", "not-applicable"),
}
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, "\x1f".join(parts)))


def token(text: str) -> str:
    """`text` as an OSCAL token (a letter or _ first; letters, digits, _ - . after): other
    characters become ``_``, and a leading digit gets ``_`` before it."""
    out = _TOKEN_BAD.sub("_", text)
    return out if out and (out[0].isalpha() or out[0] == "_") else "_" + out


def control_target(framework: str, control: str) -> str:
    """The OSCAL target id of a framework's control: ``<framework>_<control>`` as a token
    (``pci-dss-4.0_1.2.8``, ``nist-800-53-r5_SC-7_4_``); the exact ids are in the props."""
    return token(f"{framework}_{control}")


def _times(model: ReportModel) -> tuple[datetime, datetime]:
    """(start, end) of the run from findings.json: the snapshot's start and finish, else the
    assessment date; ReportUnavailable when it holds none (the clock is never read)."""
    start = parse_utc(model.run.started) or parse_utc(model.run.finished) or parse_utc(model.run.assessed_on)
    end = parse_utc(model.run.finished) or start
    if start is None or end is None:
        raise ReportUnavailable("OSCAL needs the run's time, and this findings.json has no snapshot start or finish "
                                "time and no assessment date (run.snapshot.started, run.snapshot.finished, "
                                "run.assessed_on)")
    return start, end


def _text(value: str) -> str:
    """A one-line OSCAL text (titles, prop values: no line break, no surrounding space)."""
    one = " ".join(value.split())
    return one or "-"


def _import() -> Any:
    try:
        from trestle.oscal import OSCAL_VERSION
        from trestle.oscal import assessment_results as ar
        from trestle.oscal import common
    except ImportError as exc:
        raise ReportUnavailable(f"OSCAL assessment results need compliance-trestle, the 'oscal' extra, which is not "
                                f"installed ({exc}); install it with: {INSTALL_HINT}") from exc
    return OSCAL_VERSION, ar, common


def _prop(common: Any, name: str, value: str, **kw: Any) -> Any:
    return common.Property(name=name, value=_text(value), ns=NS, **kw)


def _evidence(common: Any, f: FindingView, hashes: Any) -> list[Any]:
    """One relevant-evidence per snapshot record the finding's evidence cites."""
    pointers: dict[str, list[str]] = {}
    for e in f.evidence:
        for source in e.sources:
            name, _, pointer = source.partition("#")
            pointers.setdefault(name, [])
            if pointer and pointer not in pointers[name]:
                pointers[name].append(pointer)
    out = []
    for name in sorted(pointers):
        digest = hashes.get(name, "")
        hex_digest = digest.split(":", 1)[1] if digest.startswith("sha256:") else ""
        where = f" at {', '.join(pointers[name])}" if pointers[name] else ""
        said = (f"SHA-256 {hex_digest} in snapshot/manifest.json" if hex_digest
                else "not listed in the snapshot manifest given (no hash)")
        props = [_prop(common, "sha256", hex_digest)] if hex_digest else None
        out.append(common.RelevantEvidence(
            href=quote(f"snapshot/{name}", safe="/~-._"),
            description=f"Snapshot record {name}{where}; {said}.", props=props))
    return out


def _observation(common: Any, f: FindingView, hashes: Any, collected: datetime) -> Any:
    res = f.resource
    props = [_prop(common, "finding-fingerprint", f.fingerprint), _prop(common, "rule-id", f.rule_id),
             _prop(common, "status", f.status), _prop(common, "severity", f.severity or "unknown"),
             _prop(common, "resource-type", res.type or "unknown"), _prop(common, "resource-id", res.id or "*")]
    for key, value in (("resource-arn", res.arn), ("account", res.account), ("region", res.region),
                       ("vpc-id", res.vpc_id), ("item", f.item or "")):
        if value.strip():
            props.append(_prop(common, key, value))
    if f.status == "ERROR":
        props.append(_prop(common, "assessment-status", "not-assessed"))
    if f.waiver is not None:
        props.append(_prop(common, "waiver", f.waiver.id))
    return common.Observation(
        uuid=_uuid("observation", f.fingerprint),
        title=_text(f"{f.rule_id} {f.status}: {f.name}"),
        description=f.message or f"{f.rule.title} ({f.status})",
        props=props, methods=["TEST"], relevant_evidence=_evidence(common, f, hashes) or None,
        collected=collected)


def _gap_observation(common: Any, gap: NotAssessed, collected: datetime) -> Any:
    from auditor.report.machine import gap_fingerprint, gap_text

    props = [_prop(common, "assessment-status", "not-assessed"), _prop(common, "account", gap.account or "unknown"),
             _prop(common, "region", gap.region or "all")]
    props += [_prop(common, "call", call) for call in gap.calls]
    return common.Observation(uuid=_uuid("gap", gap_fingerprint(gap)), title=_text(f"not assessed: {gap.account}/{gap.region}"),
                              description=gap_text(gap), props=props, methods=["TEST"], collected=collected)


def _finding(common: Any, fw: FrameworkView, ctl: ControlView, observations: list[str]) -> Any:
    state, reason, implementation = CONTROL_STATE.get(ctl.status, CONTROL_STATE["ERROR"])
    words = {
        "PASS": "its rules held on every in-scope resource they apply to",
        "FAIL": "a rule failed on an in-scope resource",
        "WAIVED": "its failures are covered by active waivers (accepted risk): not satisfied",
        "ERROR": "not assessed: a rule could not be evaluated (data missing); never satisfied",
        "NOT_APPLICABLE": "not applicable: no in-scope resource matched its rules; nothing was assessed",
    }.get(ctl.status, "not assessed")
    props = [_prop(common, "framework", fw.id), _prop(common, "control-id", ctl.id),
             _prop(common, "status", ctl.status), _prop(common, "authority", ctl.authority or "unknown")]
    props += [_prop(common, "rule-id", r) for r in ctl.rules]
    if ctl.status == "ERROR":
        props.append(_prop(common, "assessment-status", "not-assessed"))
    if ctl.third_party_only:
        props.append(_prop(common, "third-party-mapping", "true"))
    target = common.FindingTarget(
        type="objective-id", target_id=control_target(fw.id, ctl.id), title=_text(f"{fw.title} {ctl.id}"),
        status=common.ObjectiveStatus(state=state, reason=reason, remarks=words),
        implementation_status=common.ImplementationStatus(state=implementation) if implementation else None)
    return common.Finding(
        uuid=_uuid("finding", fw.id, ctl.id), title=_text(f"{fw.title} {ctl.id}: {ctl.title or ctl.id}"),
        description=f"{fw.title} {fw.version} {ctl.id} {ctl.title}: {ctl.status} ({words}).",
        props=props, target=target,
        related_observations=[common.RelatedObservation(observation_uuid=u) for u in observations] or None)


def observations_by_rule(model: ReportModel) -> dict[str, list[str]]:
    """The uuids of each rule's observations (one per finding of the rule)."""
    by_rule: dict[str, list[str]] = {}
    for f in model.findings:
        by_rule.setdefault(f.rule_id, []).append(_uuid("observation", f.fingerprint))
    return by_rule


def related_uuids(ctl: ControlView, by_rule: dict[str, list[str]]) -> list[str]:
    """The observations a control's finding relates to: those of its rules, sorted."""
    return sorted({u for r in ctl.rules for u in by_rule.get(r, [])})


def assessment_results(model: ReportModel, findings_json: FindingsBytes, manifest: bytes | None = None, *,
                       with_observations: bool = True) -> Any:
    """The trestle `AssessmentResults` of `model` (validated by trestle as it is built); record
    hashes from the model, else from the snapshot `manifest`'s bytes. Without
    `with_observations` the result has no observations (`iter_observations` gives them one at a
    time) and its findings no related observations (`related_uuids` gives them)."""
    oscal_version, ar, common = _import()
    start, end = _times(model)
    run_id = hashlib.sha256(findings_json).hexdigest()
    observations = list(iter_observations(model, manifest)) if with_observations else []
    by_rule = observations_by_rule(model) if with_observations else {}
    selections, findings = [], []
    for fw in sorted(model.frameworks, key=lambda fw: fw.id):
        if not fw.controls:
            continue
        selections.append(common.ControlSelections(
            description=_text(f"{fw.title} {fw.version} ({fw.id}): the controls the packs' rules cite"),
            props=[_prop(common, "framework", fw.id)],
            include_controls=[common.SelectControlById(control_id=control_target(fw.id, c.id)) for c in fw.controls]))
        for ctl in fw.controls:
            findings.append(_finding(common, fw, ctl, related_uuids(ctl, by_rule)))
    if not selections:   # OSCAL needs one selection: say that no control was reviewed
        selections.append(common.ControlSelections(description="No framework control is cited by the rules of this run.",
                                                   include_controls=[]))
    complete = "complete" if model.complete else "incomplete"
    result = ar.Result(
        uuid=_uuid("result", run_id), title=_text(f"Network compliance assessment of {model.organisation or 'AWS'}"),
        description=(f"Automated assessment by {model.run.tool_name or 'private-network-auditor'} "
                     f"{model.run.tool_version}: {len(model.findings)} findings over "
                     f"{len(model.run.accounts)} accounts; the run is {complete}"
                     + (f" ({len(model.not_assessed)} gaps not assessed)." if model.not_assessed else ".")),
        start=start, end=end,
        props=[_prop(common, "run-status", complete), _prop(common, "assessed-on", model.run.assessed_on or "unknown"),
               _prop(common, "snapshot-manifest-sha256", model.run.manifest_sha256 or "unknown"),
               _prop(common, "findings-json-sha256", run_id)],
        reviewed_controls=common.ReviewedControls(control_selections=selections),
        observations=observations or None, findings=findings or None)
    return ar.AssessmentResults(
        uuid=_uuid("assessment-results", run_id),
        metadata=common.Metadata(
            title=_text(f"{model.organisation or 'AWS'}: private network assessment results"),
            last_modified=end, version=model.run.tool_version or "0", oscal_version=oscal_version,
            props=[_prop(common, "tool", model.run.tool_name or "private-network-auditor")]),
        import_ap=ar.ImportAp(href=IMPORT_AP, remarks=(
            "No OSCAL assessment plan: the plan of this assessment (config digest, profile, packs, scope) is "
            "recorded in the bundle's findings.json, which this points to.")),
        results=[result])


def iter_observations(model: ReportModel, manifest: bytes | None = None) -> Iterator[Any]:
    """The result's observations (trestle objects), one per finding then one per gap."""
    from auditor.report.model import record_hashes_of

    _, _, common = _import()
    _, end = _times(model)
    hashes = model.record_hashes or record_hashes_of(manifest)
    for f in model.findings:
        yield _observation(common, f, hashes, end)
    for gap in model.not_assessed:
        yield _gap_observation(common, gap, end)


# Stand for the observations, and for each control's related observations, in the document's
# text until they are written one by one.
_MARKER = "\x00observations\x00"
_RELATED = "\x00related\x00{}\x00"


def write_oscal(model: ReportModel, findings_json: FindingsBytes, manifest: bytes | None, out: BinaryIO) -> None:
    """`oscal_json` written into `out` one observation, and one related observation, at a
    time: the same bytes, and the same check (the document without its observations and
    related observations, then each observation parsed back by trestle, and each control's
    related observations by trestle's model of them), without holding an organisation's
    observations, or the millions of links from its controls to them, at once."""
    _, ar, common = _import()
    if not model.findings and not model.not_assessed:   # no observation: the document as it is
        out.write(oscal_json(model, findings_json, manifest))
        return
    doc = json.loads(assessment_results(model, findings_json, manifest, with_observations=False)
                     .oscal_serialize_json_bytes())
    ar.AssessmentResults.parse_obj(doc["assessment-results"])
    result = doc["assessment-results"]["results"][0]
    result["observations"] = [_MARKER]
    by_rule = observations_by_rule(model)
    related: list[ControlView] = []   # the control of each related-observations marker
    controls = {_uuid("finding", fw.id, ctl.id): ctl for fw in model.frameworks for ctl in fw.controls}
    for finding in result.get("findings") or []:
        ctl = controls[finding["uuid"]]
        if any(by_rule.get(r) for r in ctl.rules):
            finding["related-observations"] = [_RELATED.format(len(related))]
            related.append(ctl)
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    del doc, result
    at = 0
    marks = sorted([(text.index(json.dumps(_MARKER)), -1)]
                   + [(text.index(json.dumps(_RELATED.format(i))), i) for i in range(len(related))])
    for place, which in marks:
        mark = json.dumps(_MARKER if which < 0 else _RELATED.format(which))
        line = text.rindex("\n", 0, place)
        indent = text[line + 1:place]
        out.write(text[at:line].encode("utf-8"))
        if which < 0:
            pieces: Iterator[Any] = (json.loads(obs.oscal_serialize_json_bytes(wrapped=False))
                                     for obs in iter_observations(model, manifest))
            check: Callable[[Any], Any] = common.Observation.parse_obj
        else:
            pieces = ({"observation-uuid": u} for u in related_uuids(related[which], by_rule))
            check = common.RelatedObservation.parse_obj
        for i, data in enumerate(pieces):
            check(data)   # what is written reads back
            piece = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False).replace("\n", "\n" + indent)
            out.write((("\n" if i == 0 else ",\n") + indent + piece).encode("utf-8"))
        at = place + len(mark)
    out.write(text[at:].encode("utf-8"))


def oscal_json(model: ReportModel, findings_json: FindingsBytes, manifest: bytes | None = None) -> bytes:
    """The assessment results as OSCAL JSON (``{"assessment-results": ...}``, keys sorted,
    one-space indent), parsed back by trestle before it is returned."""
    _, ar, _ = _import()
    results = assessment_results(model, findings_json, manifest)
    doc = json.loads(results.oscal_serialize_json_bytes())
    ar.AssessmentResults.parse_obj(doc["assessment-results"])   # what is written reads back
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _stream(inputs: ReportInputs, out: BinaryIO) -> None:
    """The file's bytes written into `out`; ReportUnavailable (the other formats are still
    written; the caller drops the partial file) without trestle, or when trestle refuses the
    document: nothing invalid is written."""
    _import()
    from pydantic.v1 import ValidationError   # trestle's models are pydantic v1 models

    try:
        write_oscal(inputs.model, inputs.findings_json, inputs.manifest, out)
    except ValidationError as exc:
        raise ReportUnavailable(f"the OSCAL assessment results are not valid OSCAL (trestle refused them; nothing "
                                f"was written): {exc}") from exc


WRITER = Writer(name="oscal", file_name="findings.oscal.json", write=streamed(_stream), order=37, rederivable=True,
                by_default=False, in_scan_default=False, stream=_stream)
