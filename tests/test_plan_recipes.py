"""The pre-deploy pipeline recipes of docs/plans.md, checked as tests/test_deploy_recipes.py
checks the scan's: each by the validator of its format (check-jsonschema's vendored GitHub
workflow and GitLab CI schemas, a broken copy refused), its structure (plan, then the audit,
then the uploads whatever happened, then the verdict), and its own shell run: with stand-ins for
the programs a runner would start (terraform, docker, the image's auditor) that record what
they were given and exit with each code of the contract."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
import yaml

from conftest import moto_server_url
from test_deploy_recipes import ERRORS, FAILS, PASS, _check_jsonschema, _fake_command, _shell

REPO = Path(__file__).resolve().parent.parent
TERRAFORM_WORKFLOW = REPO / "deploy" / "github-actions" / "plan-terraform.yml"
CFN_WORKFLOW = REPO / "deploy" / "github-actions" / "plan-cloudformation.yml"
GITLAB = REPO / "deploy" / "gitlab" / "plan.gitlab-ci.yml"
WORKFLOWS = {"terraform": TERRAFORM_WORKFLOW, "cloudformation": CFN_WORKFLOW}
BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail")   # GitHub's default `run` shell on Linux

# `terraform show -json` of the stand-in: a plan document, so a test can see it reach plan.json.
FAKE_PLAN = {"format_version": "1.2", "terraform_version": "1.9.5", "planned_values": {"root_module": {}},
             "resource_changes": [], "configuration": {"root_module": {}}}


def _fake_terraform(folder: Path) -> None:
    """terraform: records each call's arguments; `show -json` prints FAKE_PLAN; exits $FAKE_EXIT
    for `plan` (0 elsewhere), as a failing plan would."""
    plan = json.dumps(FAKE_PLAN).replace("'", "'\\''")
    _fake_command(folder, "terraform", f"""echo "$@" >> "$FAKE_ARGS"
case " $* " in
  *" show -json "*) printf '%s\\n' '{plan}'; exit 0 ;;
  *" plan "*) ;;
  *) exit 0 ;;
esac""")


def _workflow(which: str) -> dict[str, Any]:
    return yaml.safe_load(WORKFLOWS[which].read_text(encoding="utf-8"))


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def _indexes(steps: list[dict[str, Any]], *, uses: str | None = None, id: str | None = None) -> list[int]:
    return [i for i, s in enumerate(steps) if (uses and str(s.get("uses", "")).startswith(uses + "@"))
            or (id and s.get("id") == id)]


def _index(steps: list[dict[str, Any]], *, uses: str | None = None, id: str | None = None) -> int:
    found = _indexes(steps, uses=uses, id=id)
    assert len(found) == 1, f"one step {uses or id}"
    return found[0]


def _env(workflow: dict[str, Any], step: dict[str, Any], **extra: str) -> dict[str, str]:
    """The job's and the step's env as the runner would set them (the ${{ }} expressions given
    by the test), over this process's."""
    (job,) = workflow["jobs"].values()
    env = dict(os.environ)
    for key, value in {**job.get("env", {}), **step.get("env", {})}.items():
        if not str(value).startswith("${{"):
            env[key] = str(value)
    env.update(extra)
    return env


# -- GitHub Actions ------------------------------------------------------------------------------

@pytest.mark.parametrize("which", sorted(WORKFLOWS))
def test_workflow_validates_against_the_github_workflows_schema(which: str, tmp_path: Path) -> None:
    done = _check_jsonschema("github-workflows", WORKFLOWS[which])
    assert done.returncode == 0, done.stdout + done.stderr
    # The validator is live: a misspelt permission level is refused.
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOWS[which].read_text(encoding="utf-8").replace("security-events: write",
                                                                            "security-events: writ"))
    assert _check_jsonschema("github-workflows", broken).returncode == 1


@pytest.mark.parametrize("which", sorted(WORKFLOWS))
def test_workflow_audits_then_uploads_whatever_happened_then_judges(which: str) -> None:
    workflow = _workflow(which)
    steps = _steps(workflow)
    assert workflow["permissions"]["security-events"] == "write"
    i_audit = _index(steps, id="audit")
    run = steps[i_audit]["run"]
    source = "plan.json" if which == "terraform" else '"$CFN_TEMPLATE"'
    assert f'"$AUDITOR_IMAGE" plan {source} --config "$AUDIT_CONFIG"' in run
    # Over what is deployed: a read-only collection with the credentials of the step before.
    assert "--collect" in run and "--snapshot" not in run
    assert all(f"-e {name}" in run for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
    assert workflow["permissions"]["id-token"] == "write"
    *_, i_caller = _indexes(steps, uses="aws-actions/configure-aws-credentials")
    caller = steps[i_caller]
    assert caller["with"]["role-to-assume"] == "${{ vars.AUDITOR_CALLER_ROLE_ARN }}"
    assert "aws-access-key-id" not in caller["with"] and i_caller == i_audit - 1
    out = re.search(r"--out (\S+)", run)
    formats = re.search(r"--format (\S+)", run)
    assert out and formats and "sarif" in formats.group(1).split(",")
    out_dir = out.group(1)
    i_sarif = _index(steps, uses="github/codeql-action/upload-sarif")
    sarif = steps[i_sarif]
    assert sarif["with"]["sarif_file"] == f"{out_dir}/findings.sarif"
    assert sarif["if"].startswith("always()") and f"hashFiles('{out_dir}/findings.sarif')" in sarif["if"]
    i_art = _index(steps, uses="actions/upload-artifact")
    assert steps[i_art]["if"] == "always()" and steps[i_art]["with"]["path"].rstrip("/") == out_dir
    i_verdict = _index(steps, id="verdict")
    assert steps[i_verdict]["if"] == "always()"
    assert steps[i_verdict]["env"]["AUDIT_EXIT"] == "${{ steps.audit.outputs.exit-code }}"
    assert _index(steps, uses="actions/checkout") < i_audit < i_sarif < i_art < i_verdict == len(steps) - 1
    if which == "terraform":
        # OIDC for terraform plan (no stored keys), the wrapper off so stdout is the plan alone,
        # the plan made before it is audited, with the account of the role that planned it; the
        # auditor's own role after the plan.
        i_creds, i_caller_again = _indexes(steps, uses="aws-actions/configure-aws-credentials")
        assert steps[i_creds]["with"]["role-to-assume"] == "${{ vars.TERRAFORM_PLAN_ROLE_ARN }}"
        assert "aws-access-key-id" not in steps[i_creds]["with"]
        i_tf = _index(steps, uses="hashicorp/setup-terraform")
        assert steps[i_tf]["with"]["terraform_wrapper"] is False
        i_plan = _index(steps, id="plan")
        assert i_creds < i_tf < i_plan < i_caller_again < i_audit
        assert steps[i_audit]["env"]["AUDIT_ACCOUNT"] == f"${{{{ steps.{steps[i_creds]['id']}.outputs.aws-account-id }}}}"
    else:
        # A template needs no plan step: the caller's credentials, then the audit.
        assert len(_indexes(steps, uses="aws-actions/configure-aws-credentials")) == 1
        assert _index(steps, uses="actions/checkout") == 0 and i_caller == 1


def test_terraform_plan_step_writes_the_plan_json_the_audit_reads(tmp_path: Path) -> None:
    workflow = _workflow("terraform")
    step = _steps(workflow)[_index(_steps(workflow), id="plan")]
    _fake_terraform(tmp_path / "bin")
    env = _env(workflow, step, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", FAKE_EXIT="0",
               FAKE_ARGS=str(tmp_path / "args"))
    done = _shell(step["run"], env, tmp_path, *BASH)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "plan.json").read_text()) == FAKE_PLAN
    calls = (tmp_path / "args").read_text().splitlines()
    assert [c.split()[1] for c in calls] == ["init", "plan", "show"]
    assert all(c.startswith("-chdir=infra ") for c in calls)
    assert "-out=tfplan" in calls[1].split() and calls[2].split()[2:] == ["-json", "tfplan"]
    # A failing plan fails the step: the audit does not run on a stale or empty plan.json.
    (tmp_path / "plan.json").unlink()
    done = _shell(step["run"], dict(env, FAKE_EXIT="1"), tmp_path, *BASH)
    assert done.returncode == 1 and not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("which", sorted(WORKFLOWS))
@pytest.mark.parametrize("code", [*PASS, *FAILS, *ERRORS, 125])
def test_workflow_audit_step_records_the_code_and_never_fails(which: str, code: int, tmp_path: Path) -> None:
    workflow = _workflow(which)
    step = _steps(workflow)[_index(_steps(workflow), id="audit")]
    _fake_command(tmp_path / "bin", "docker", 'echo "$@" > "$FAKE_ARGS"')
    output = tmp_path / "github_output"
    env = _env(workflow, step, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", FAKE_EXIT=str(code),
               FAKE_ARGS=str(tmp_path / "args"), GITHUB_OUTPUT=str(output), GITHUB_WORKSPACE=str(tmp_path),
               AUDITOR_IMAGE="registry.example/auditor:1", AUDIT_ACCOUNT="123456789012",
               AUDIT_REGION="eu-west-1", AWS_REGION="eu-west-1")
    done = _shell(step["run"], env, tmp_path, *BASH)
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"exit-code={code}\n"
    args = (tmp_path / "args").read_text()
    source = "plan.json" if which == "terraform" else "cloudformation/network.yaml"
    assert f"registry.example/auditor:1 plan {source} --config .github/auditor/audit.yaml" in args
    assert "--account 123456789012 --region eu-west-1" in args and "--user" in args
    assert "--collect" in args and "-e AWS_SESSION_TOKEN" in args   # the caller role's credentials reach it
    if which == "cloudformation":     # one --parameter per value of CFN_PARAMETERS
        assert "--region eu-west-1 --parameter Environment=prod --format " in args
        _shell(step["run"], dict(env, CFN_PARAMETERS="VpcCidr=10.1.0.0/16 Tier=app"), tmp_path, *BASH)
        assert "--parameter VpcCidr=10.1.0.0/16 --parameter Tier=app --format " in (tmp_path / "args").read_text()


@pytest.mark.parametrize("which", sorted(WORKFLOWS))
@pytest.mark.parametrize("code", [*PASS, *FAILS, *ERRORS, "", "abc"])
def test_workflow_verdict_fails_the_job_on_the_documented_codes(which: str, code: int | str, tmp_path: Path) -> None:
    workflow = _workflow(which)
    step = _steps(workflow)[_index(_steps(workflow), id="verdict")]
    done = _shell(step["run"], dict(os.environ, AUDIT_EXIT=str(code)), tmp_path, *BASH)
    if code in PASS:
        assert done.returncode == 0 and "::error" not in done.stdout
        return
    assert done.returncode != 0, f"exit code {code!r} must fail the job"
    if isinstance(code, int):
        assert done.returncode == code   # the audit's own code, for the job's log
    title = "Network compliance" if code in FAILS else "Auditor error"
    assert done.stdout.startswith(f"::error title={title}::"), done.stdout


# -- GitLab CI -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text(encoding="utf-8"))


def test_gitlab_ci_validates_against_the_gitlab_ci_schema(tmp_path: Path) -> None:
    done = _check_jsonschema("gitlab-ci", GITLAB)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(GITLAB.read_text(encoding="utf-8").replace("when: always", "when: allways"))
    assert _check_jsonschema("gitlab-ci", broken).returncode == 1


AUDIT_JOBS = ("terraform-plan-audit", "cloudformation-template-audit")


def test_gitlab_plan_then_audit_keeping_reports_and_bundle_whatever_the_outcome(gitlab: dict[str, Any]) -> None:
    assert gitlab["stages"] == ["plan", "audit"]
    plan = gitlab["terraform-plan"]
    assert plan["stage"] == "plan" and plan["id_tokens"]["AWS_ID_TOKEN"]["aud"] and plan["image"]["entrypoint"] == [""]
    assert plan["artifacts"]["paths"] == ["plan.json"] and plan["artifacts"]["access"] == "developer"
    assert "AUDITOR_CALLER_ROLE_ARN" not in "\n".join(plan["script"])
    assert gitlab["terraform-plan-audit"]["needs"] == ["terraform-plan"]
    assert gitlab["cloudformation-template-audit"]["needs"] == []
    for name in AUDIT_JOBS:
        job = gitlab[name]
        assert job["stage"] == "audit" and job["image"]["entrypoint"] == [""] and job["id_tokens"]["AWS_ID_TOKEN"]["aud"]
        script = "\n".join(job["script"])
        out = re.search(r"auditor plan .*--out (\S+)", script, re.S)
        formats = re.search(r"--format (\S+)", script)
        assert out and formats and {"junit", "sarif"} <= set(formats.group(1).split(","))
        assert job["artifacts"]["when"] == "always"
        assert job["artifacts"]["reports"]["junit"] == f"{out.group(1)}/findings.junit.xml"
        assert [p.rstrip("/") for p in job["artifacts"]["paths"]] == [out.group(1)]   # SARIF and the bundle


def test_gitlab_plan_job_passes_the_token_and_writes_plan_json(gitlab: dict[str, Any], tmp_path: Path) -> None:
    job = gitlab["terraform-plan"]
    _fake_terraform(tmp_path / "bin")
    (tmp_path / "bin" / "terraform").write_text((tmp_path / "bin" / "terraform").read_text().replace(
        'echo "$@" >> "$FAKE_ARGS"', 'echo "$@" >> "$FAKE_ARGS"; env | grep "^AWS_" | sort > "$FAKE_ARGS.env"'))
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", FAKE_EXIT="0",
               FAKE_ARGS=str(tmp_path / "args"), TMPDIR=str(tmp_path), AWS_ID_TOKEN="eyJ.token.sig",
               TERRAFORM_PLAN_ROLE_ARN="arn:aws:iam::123456789012:role/plan", CI_PROJECT_ID="7", CI_JOB_ID="99",
               TF_DIR=job["variables"]["TF_DIR"])
    done = _shell("\n".join(job["script"]), env, tmp_path, "bash", "-eo", "pipefail")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "plan.json").read_text()) == FAKE_PLAN
    seen = dict(line.split("=", 1) for line in (tmp_path / "args.env").read_text().splitlines())
    assert seen["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/plan"
    assert Path(seen["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text() == "eyJ.token.sig"
    # A failing plan fails the job before plan.json is written.
    (tmp_path / "plan.json").unlink()
    done = _shell("\n".join(job["script"]), dict(env, FAKE_EXIT="1"), tmp_path, "bash", "-eo", "pipefail")
    assert done.returncode == 1 and not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("name", AUDIT_JOBS)
@pytest.mark.parametrize("code", [*PASS, *FAILS, *ERRORS])
def test_gitlab_audit_fails_on_the_documented_codes(gitlab: dict[str, Any], name: str, code: int,
                                                    tmp_path: Path) -> None:
    job = gitlab[name]
    _fake_command(tmp_path / "bin", "auditor",
                  'echo "$@" > "$FAKE_ARGS"; env | grep "^AWS_" | sort > "$FAKE_ARGS.env"')
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", FAKE_EXIT=str(code),
               FAKE_ARGS=str(tmp_path / "args"), AWS_ACCOUNT_ID="123456789012", AWS_REGION="eu-west-1",
               TMPDIR=str(tmp_path), AWS_ID_TOKEN="eyJ.token.sig", CI_PROJECT_ID="7", CI_JOB_ID="99",
               AUDITOR_CALLER_ROLE_ARN="arn:aws:iam::123456789012:role/caller",
               TERRAFORM_PLAN_ROLE_ARN="arn:aws:iam::123456789012:role/plan",
               **{k: str(v) for k, v in job["variables"].items()})
    done = _shell("\n".join(job["script"]), env, tmp_path, "bash", "-eo", "pipefail")
    assert done.returncode == code, done.stdout + done.stderr
    source = "plan.json" if name.startswith("terraform") else job["variables"]["CFN_TEMPLATE"]
    args = (tmp_path / "args").read_text()
    assert args.startswith(f"plan {source} --config {job['variables']['AUDIT_CONFIG']} --collect "
                           "--account 123456789012 --region eu-west-1 ")
    # The auditor collects as its own read-only role, through GitLab's ID token.
    seen = dict(line.split("=", 1) for line in (tmp_path / "args.env").read_text().splitlines())
    assert seen["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/caller"
    assert Path(seen["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text() == "eyJ.token.sig"
    if "CFN_PARAMETERS" in job["variables"]:
        assert "--region eu-west-1 --parameter Environment=prod --format " in args
    assert ("Compliant" in done.stdout) == (code == 0)
    assert ("Auditor error" in done.stdout) == (code in ERRORS)


# -- end to end: the recipes' steps around the real `auditor plan --collect` ---------------------
#
# The audit runs for real: it reads the committed fixture plan or template and collects from a
# real moto server over HTTP (the deployed estate: moto's default VPC in its default account).
# moto does not implement the two VPC Block Public Access calls: the collection records them as
# failed, so the run is incomplete as well as violating (exit 4), as a real account whose BPA
# could not be read would be.

FIXTURES = REPO / "tests" / "fixtures" / "iac"
BIN = Path(sys.executable).parent
MOTO_ACCOUNT = "123456789012"
AUDIT_CONFIG_TEXT = "version: 1\nregions: [eu-west-1]\n"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    with moto_server_url() as url:
        yield url


def _aws_env(server: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=server, AWS_DEFAULT_REGION="eu-west-1", AWS_REGION="eu-west-1",
               AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), **extra)
    return env


def _workspace(tmp_path: Path, which: str, config_dir: str) -> Path:
    """A checkout as the recipe expects it: the audit config, and the plan (as `terraform
    show -json` would have written it) or the template at the path the recipe names."""
    work = tmp_path / "work"
    (work / config_dir).mkdir(parents=True)
    (work / config_dir / "audit.yaml").write_text(AUDIT_CONFIG_TEXT, encoding="utf-8")
    if which == "terraform":
        shutil.copy(FIXTURES / "terraform" / "igw_public_subnet.json", work / "plan.json")
    else:
        (work / "cloudformation").mkdir()
        shutil.copy(FIXTURES / "cloudformation" / "public_vpc.yaml", work / "cloudformation" / "network.yaml")
    return work


def _check_run(work: Path, which: str) -> None:
    findings = json.loads((work / "auditor-out" / "findings.json").read_text(encoding="utf-8"))
    sarif = json.loads((work / "auditor-out" / "findings.sarif").read_text(encoding="utf-8"))
    plan = findings["run"]["plan"]
    assert plan["file"] == ("plan.json" if which == "terraform" else "cloudformation/network.yaml")  # as committed
    assert (plan["account"], plan["regions"]) == (MOTO_ACCOUNT, ["eu-west-1"])
    assert plan["overlay"] is not None and plan["overlay"]["snapshot"] == "collected"   # laid over what is deployed
    assert (work / "auditor-out" / "collected" / "manifest.json").is_file()
    statuses = {f["status"] for f in findings["findings"]}
    assert {"FAIL", "ERROR"} <= statuses                       # the fixture's violations; moto's missing BPA calls
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]


@pytest.mark.server
@pytest.mark.parametrize("which", sorted(WORKFLOWS))
def test_workflow_steps_run_the_real_auditor_and_fail_the_job_on_its_verdict(which: str, moto_server: str,
                                                                             tmp_path: Path) -> None:
    """The audit step with `docker run IMAGE ARGS` standing for `auditor ARGS` in the
    workspace (the image's entrypoint) and the caller role's credentials in the environment
    (as configure-aws-credentials leaves them), then the verdict step on the code it recorded."""
    workflow = _workflow(which)
    steps = _steps(workflow)
    work = _workspace(tmp_path, which, ".github/auditor")
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text('#!/bin/sh\nwhile [ "$#" -gt 0 ] && [ "$1" != "$AUDITOR_IMAGE" ]; do shift; done\nshift\n'
                      f'exec "{BIN / "auditor"}" "$@"\n', encoding="utf-8")
    docker.chmod(0o755)
    output = tmp_path / "github_output"
    audit = steps[_index(steps, id="audit")]
    env = _env(workflow, audit)
    env.update(_aws_env(moto_server, tmp_path, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                        AWS_SESSION_TOKEN="testing"))
    env.update(PATH=f"{docker.parent}:{os.environ['PATH']}", GITHUB_OUTPUT=str(output), GITHUB_WORKSPACE=str(work),
               AUDITOR_IMAGE="registry.example/auditor:1", AUDIT_ACCOUNT=MOTO_ACCOUNT, AUDIT_REGION="eu-west-1",
               CFN_PARAMETERS="VpcCidr=10.1.0.0/16")
    done = _shell(audit["run"], env, work, *BASH)
    assert done.returncode == 0, done.stdout + done.stderr
    assert output.read_text() == "exit-code=4\n", done.stdout + done.stderr
    _check_run(work, which)
    verdict = steps[_index(steps, id="verdict")]
    judged = _shell(verdict["run"], dict(os.environ, AUDIT_EXIT="4"), work, *BASH)
    assert judged.returncode == 4 and judged.stdout.startswith("::error title=Network compliance::")


@pytest.mark.server
@pytest.mark.parametrize("name", AUDIT_JOBS)
def test_gitlab_audit_jobs_run_the_real_auditor(gitlab: dict[str, Any], name: str, moto_server: str,
                                                tmp_path: Path) -> None:
    """The job's whole script: GitLab's ID token exchanged by botocore for the caller role
    (moto's STS answers AssumeRoleWithWebIdentity without checking the token), the real
    `auditor plan --collect`, and the job's exit code."""
    job = gitlab[name]
    which = "terraform" if name.startswith("terraform") else "cloudformation"
    work = _workspace(tmp_path, which, ".gitlab/auditor")
    env = _aws_env(moto_server, tmp_path, AWS_ACCOUNT_ID=MOTO_ACCOUNT, AWS_ID_TOKEN="eyJ.token.sig")
    env.update(PATH=f"{BIN}:{os.environ['PATH']}", TMPDIR=str(tmp_path), CI_PROJECT_ID="7", CI_JOB_ID="99",
               AUDITOR_CALLER_ROLE_ARN=f"arn:aws:iam::{MOTO_ACCOUNT}:role/caller",
               **{k: str(v) for k, v in job["variables"].items()})
    env["CFN_PARAMETERS"] = "VpcCidr=10.1.0.0/16"
    done = _shell("\n".join(job["script"]), env, work, "bash", "-eo", "pipefail")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "FAIL findings AND" in done.stdout
    _check_run(work, which)
    assert (work / job["artifacts"]["reports"]["junit"]).is_file()   # the test report, where the job says
