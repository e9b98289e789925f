"""The deployment recipes of docs/deploy.md, each checked by the validator of its format and its
own logic run: the GitHub Actions workflow and the GitLab CI job (check-jsonschema's vendored
schemas; their shell steps run with every exit code of the contract), the EventBridge Scheduler
+ ECS Fargate stack (cfn-lint; its caller policy is the tool's), the Kubernetes CronJob
(kubernetes-validate, strict), and the bundle uploader and scheduled-run wrapper they use
(against moto: in process, and a real server over HTTP for the wrapper's subprocesses)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from conftest import DemoRun, moto_server_url, run_auditor

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
WORKFLOW = DEPLOY / "github-actions" / "auditor.yml"
GITLAB = DEPLOY / "gitlab" / ".gitlab-ci.yml"
STACK = DEPLOY / "schedule" / "ecs-fargate-scheduler.yaml"
CRONJOB = DEPLOY / "kubernetes" / "cronjob.yaml"
UPLOADER = DEPLOY / "container" / "upload_bundle.py"
SCHEDULED_RUN = DEPLOY / "container" / "scheduled-run.sh"
HANG_GUARD_S = 600
BIN = Path(sys.executable).parent

# The exit-code contract (auditor/cli_common.py) as the recipes must judge it.
PASS, FAILS, ERRORS = (0,), (1, 3, 4), (2, 5, 6, 130)


def _check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", f"vendor.{schema}",
                           str(path)], capture_output=True, text=True, timeout=HANG_GUARD_S)


def _shell(script: str, env: dict[str, str], cwd: Path, *shell: str) -> subprocess.CompletedProcess[str]:
    path = cwd / "step.sh"
    path.write_text(script, encoding="utf-8")
    return subprocess.run([*shell, str(path)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=HANG_GUARD_S)


def _fake_command(folder: Path, name: str, body: str) -> None:
    """A stand-in for a program the CI runner would start (docker, the image's auditor): it
    records what it was given and exits with $FAKE_EXIT; the recipes' own shell is what runs."""
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(f"#!/bin/sh\n{body}\nexit \"$FAKE_EXIT\"\n", encoding="utf-8")
    (folder / name).chmod(0o755)


# -- GitHub Actions ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_workflow_validates_against_the_github_workflows_schema(tmp_path: Path) -> None:
    done = _check_jsonschema("github-workflows", WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    # The validator is live: a misspelt permission level is refused.
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text(encoding="utf-8").replace("id-token: write", "id-token: writ"))
    assert _check_jsonschema("github-workflows", broken).returncode == 1


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def _step(workflow: dict[str, Any], uses: str) -> tuple[int, dict[str, Any]]:
    found = [(i, s) for i, s in enumerate(_steps(workflow)) if str(s.get("uses", "")).startswith(uses + "@")]
    assert len(found) == 1, f"one step uses {uses}"
    return found[0]


def test_workflow_oidc_scan_sarif_artifact_then_verdict(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"]["id-token"] == "write"
    assert workflow["permissions"]["security-events"] == "write"
    i_creds, creds = _step(workflow, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] and "aws-access-key-id" not in creds["with"]
    steps = _steps(workflow)
    i_scan = next(i for i, s in enumerate(steps) if s.get("id") == "scan")
    out = re.search(r"--out (\S+)", steps[i_scan]["run"])
    assert out and "\"$AUDITOR_IMAGE\" scan --config" in steps[i_scan]["run"]
    out_dir = out.group(1)
    i_sarif, sarif = _step(workflow, "github/codeql-action/upload-sarif")
    assert sarif["with"]["sarif_file"] == f"{out_dir}/findings.sarif"
    assert sarif["if"].startswith("always()") and f"hashFiles('{out_dir}/findings.sarif')" in sarif["if"]
    i_art, artifact = _step(workflow, "actions/upload-artifact")
    assert artifact["if"] == "always()" and artifact["with"]["path"].rstrip("/") == out_dir
    i_verdict = next(i for i, s in enumerate(steps) if s.get("id") == "verdict")
    assert steps[i_verdict]["if"] == "always()"
    assert steps[i_verdict]["env"]["SCAN_EXIT"] == "${{ steps.scan.outputs.exit-code }}"
    assert i_creds < i_scan < i_sarif < i_art < i_verdict == len(steps) - 1


@pytest.mark.parametrize("code", [*PASS, *FAILS, *ERRORS, 125])
def test_workflow_scan_step_records_the_code_and_never_fails(workflow: dict[str, Any], code: int,
                                                             tmp_path: Path) -> None:
    step = next(s for s in _steps(workflow) if s.get("id") == "scan")
    _fake_command(tmp_path / "bin", "docker", 'echo "$@" > "$FAKE_ARGS"')
    output = tmp_path / "github_output"
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", FAKE_EXIT=str(code),
               FAKE_ARGS=str(tmp_path / "args"), GITHUB_OUTPUT=str(output), GITHUB_WORKSPACE=str(tmp_path),
               AUDITOR_IMAGE="registry.example/auditor:1", AUDIT_CONFIG=".github/auditor/audit.yaml")
    # GitHub's default shell for `run` on Linux runners.
    done = _shell(step["run"], env, tmp_path, "bash", "--noprofile", "--norc", "-eo", "pipefail")
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"exit-code={code}\n"
    args = (tmp_path / "args").read_text()
    assert "registry.example/auditor:1 scan --config .github/auditor/audit.yaml" in args
    assert "-e AWS_SESSION_TOKEN" in args and "--user" in args


@pytest.mark.parametrize("code", [*PASS, *FAILS, *ERRORS, "", "abc"])
def test_workflow_verdict_fails_the_job_on_the_documented_codes(workflow: dict[str, Any], code: int | str,
                                                                tmp_path: Path) -> None:
    step = next(s for s in _steps(workflow) if s.get("id") == "verdict")
    env = dict(os.environ, SCAN_EXIT=str(code))
    done = _shell(step["run"], env, tmp_path, "bash", "--noprofile", "--norc", "-eo", "pipefail")
    if code in PASS:
        assert done.returncode == 0 and "::error" not in done.stdout
        return
    assert done.returncode != 0, f"exit code {code!r} must fail the job"
    if isinstance(code, int):
        assert done.returncode == code  # the scan's own code, for the job's log
    title = "Network compliance" if code in FAILS else "Auditor error"
    assert done.stdout.startswith(f"::error title={title}::"), done.stdout


# -- GitLab CI -----------------------------------------------------------------------------------

def test_gitlab_ci_validates_against_the_gitlab_ci_schema(tmp_path: Path) -> None:
    done = _check_jsonschema("gitlab-ci", GITLAB)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(GITLAB.read_text(encoding="utf-8").replace("when: always", "when: allways"))
    assert _check_jsonschema("gitlab-ci", broken).returncode == 1


def test_gitlab_job_keeps_the_junit_report_and_bundle_whatever_the_outcome() -> None:
    (job,) = [v for k, v in yaml.safe_load(GITLAB.read_text(encoding="utf-8")).items() if isinstance(v, dict)
              and "script" in v]
    out = re.search(r"auditor scan .*--out (\S+)", "\n".join(job["script"]))
    assert out
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == f"{out.group(1)}/findings.junit.xml"
    assert [p.rstrip("/") for p in job["artifacts"]["paths"]] == [out.group(1)]
    assert job["image"]["entrypoint"] == [""]
    assert job["id_tokens"]["AWS_ID_TOKEN"]["aud"]


@pytest.mark.parametrize("code", [*PASS, *FAILS, *ERRORS])
def test_gitlab_script_passes_the_token_and_fails_on_the_documented_codes(code: int, tmp_path: Path) -> None:
    (job,) = [v for v in yaml.safe_load(GITLAB.read_text(encoding="utf-8")).values() if isinstance(v, dict)
              and "script" in v]
    _fake_command(tmp_path / "bin", "auditor",
                  'echo "$@" > "$FAKE_ARGS"; env | grep "^AWS_" | sort > "$FAKE_ARGS.env"')
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", FAKE_EXIT=str(code),
               FAKE_ARGS=str(tmp_path / "args"), TMPDIR=str(tmp_path), AWS_ID_TOKEN="eyJ.token.sig",
               AUDITOR_CALLER_ROLE_ARN="arn:aws:iam::123456789012:role/caller", CI_PROJECT_ID="7",
               CI_JOB_ID="99", AUDIT_CONFIG=job["variables"]["AUDIT_CONFIG"])
    # The runner runs the script's lines in one shell that stops at the first failure.
    done = _shell("\n".join(job["script"]), env, tmp_path, "bash", "-eo", "pipefail")
    assert done.returncode == code, done.stdout + done.stderr
    assert (tmp_path / "args").read_text().startswith(f"scan --config {job['variables']['AUDIT_CONFIG']} --out ")
    seen = dict(line.split("=", 1) for line in (tmp_path / "args.env").read_text().splitlines())
    assert seen["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/caller"
    assert Path(seen["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text() == "eyJ.token.sig"
    assert ("Compliant" in done.stdout) == (code == 0)
    assert ("Auditor error" in done.stdout) == (code in ERRORS)


# -- EventBridge Scheduler + ECS Fargate (CloudFormation) ----------------------------------------

@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return dict(cfn_yaml.loads(STACK.read_text(encoding="utf-8")))


def test_stack_is_cfn_lint_clean() -> None:
    from cfnlint.api import lint_all

    # Errors and warnings, what the `cfn-lint` command reports by default (the API also returns
    # informational matches, such as I4010's request for architecture metadata).
    def problems(text: str) -> list[str]:
        return [str(m) for m in lint_all(text) if m.rule.id[0] in "EW"]

    assert problems(STACK.read_text(encoding="utf-8")) == []
    # cfn-lint is live: a task definition without its container definitions is refused.
    broken = STACK.read_text(encoding="utf-8").replace("ContainerDefinitions:", "ContainerDefinitionz:")
    assert problems(broken)


def _resources(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in stack["Resources"].items() if res["Type"] == kind}


def test_stack_schedules_the_fargate_task_with_the_caller_policy(stack: dict[str, Any]) -> None:
    from auditor.vocabulary import FAIL_ON_CHOICES

    (schedule,) = _resources(stack, "AWS::Scheduler::Schedule").values()
    (cluster_name,) = _resources(stack, "AWS::ECS::Cluster")
    (task_name, task), = _resources(stack, "AWS::ECS::TaskDefinition").items()
    assert _resources(stack, "AWS::Logs::LogGroup")
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [cluster_name, "Arn"]}
    assert target["EcsParameters"]["TaskDefinitionArn"] == {"Ref": task_name}
    assert target["EcsParameters"]["LaunchType"] == "FARGATE"
    assert target["EcsParameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    props = task["Properties"]
    roles = _resources(stack, "AWS::IAM::Role")
    task_role = roles[props["TaskRoleArn"]["Fn::GetAtt"][0]]
    assert props["ExecutionRoleArn"]["Fn::GetAtt"][0] in roles
    # The task role's caller statements are `auditor permissions --caller`, role name a parameter.
    caller = json.loads(run_auditor("permissions", "--caller").stdout)
    statements = {s["Sid"]: s for p in task_role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
                  if "Sid" in s}
    for wanted in caller["Statement"]:
        got = statements[wanted["Sid"]]
        assert sorted(got["Action"]) == sorted(wanted["Action"])
        resource = got["Resource"] if isinstance(got["Resource"], str) else got["Resource"]["Fn::Sub"]
        assert resource.replace("${AWS::Partition}", "aws").replace("${AuditRoleName}", "AuditorReadOnly") \
            == wanted["Resource"]
    # Bundles go to the bucket parameter, under the prefix; the container runs as the image's
    # non-root user, read-only root, through the wrapper that uploads.
    (container,) = props["ContainerDefinitions"]
    assert container["EntryPoint"] == ["auditor-scheduled-run"]
    assert container["Command"][0] == {"Fn::Sub": "s3://${BundleBucketName}/${BundlePrefix}"}
    assert "BundleBucketName" in stack["Parameters"]
    assert container["ReadonlyRootFilesystem"] is True
    assert container["User"] == _dockerfile_user()
    assert stack["Parameters"]["FailOn"]["AllowedValues"] == list(FAIL_ON_CHOICES)
    work = {e["Name"]: e["Value"] for e in container["Environment"]}["AUDITOR_WORK_DIR"]
    assert [m["ContainerPath"] for m in container["MountPoints"]] == [work]
    # Fargate gives a task volume the ownership of the image's VOLUME at the same path (else
    # root's): the non-root user can write there only because the image declares it.
    assert f'VOLUME ["{work}"]' in (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert {s["Name"] for s in container["Secrets"]} == {"AUDITOR_CONFIG_TEXT"}


def _dockerfile_user() -> str:
    users = re.findall(r"^USER (\S+)$", (REPO / "Dockerfile").read_text(encoding="utf-8"), re.M)
    return users[-1]


# -- Kubernetes CronJob --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(CRONJOB.read_text(encoding="utf-8"))}


def test_cronjob_validates_strictly(manifests: dict[str, dict[str, Any]]) -> None:
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for doc in manifests.values():
        kubernetes_validate.validate(doc, version, strict=True)
    # Strict validation is live: a misspelt field is refused.
    broken = json.loads(json.dumps(manifests["CronJob"]))
    broken["spec"]["jobTemplate"]["spec"]["template"]["spec"]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_cronjob_runs_non_root_read_only_with_irsa(manifests: dict[str, dict[str, Any]]) -> None:
    from auditor.config import config_from_text

    pod = manifests["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    uid, _, gid = _dockerfile_user().partition(":")
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == int(uid)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    account = manifests["ServiceAccount"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    # The wrapper uploads to a bucket; its work folder and the config are mounted volumes.
    assert container["command"] == ["auditor-scheduled-run"] and container["args"][0].startswith("s3://")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AUDITOR_WORK_DIR"] in mounts
    config_path = Path(container["args"][container["args"].index("--config") + 1])
    volume = next(v for v in pod["volumes"] if v["name"] == mounts[str(config_path.parent)])
    config_map = manifests["ConfigMap"]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    config = config_from_text(config_map["data"][config_path.name])  # a valid audit config
    assert config.accounts


# -- the bundle uploader (moto, in process) ------------------------------------------------------

def _load_uploader() -> ModuleType:
    spec = importlib.util.spec_from_file_location("upload_bundle", UPLOADER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bundle(demo_run: DemoRun, tmp_path: Path) -> Path:
    """A copy of the demo's finished bundle, in a run folder of its own."""
    folder = tmp_path / "run-20260101T030000Z"
    shutil.copytree(demo_run.out, folder)
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _objects(s3: Any, bucket: str) -> dict[str, bytes]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_uploader_copies_every_file_of_the_bundle(moto_aws: None, bundle: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    uploader = _load_uploader()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="audit-bundles")
    assert uploader.main([str(bundle), "s3://audit-bundles/network/nightly/"]) == 0
    assert "uploaded" in capsys.readouterr().out
    stored = _objects(s3, "audit-bundles")
    assert stored == {f"network/nightly/{bundle.name}/{rel}": data for rel, data in _files(bundle).items()}
    assert len(stored) > 10 and f"network/nightly/{bundle.name}/bundle.json" in stored
    # bundle.json last: a reader that finds it finds every file it lists.
    keys = uploader.upload_bundle(bundle, "audit-bundles", "again", boto3.Session(region_name="us-east-1"))
    assert keys[-1] == f"again/{bundle.name}/bundle.json" and len(keys) == len(set(keys)) == len(_files(bundle))


def test_uploader_says_the_bucket_is_missing_and_uploads_nothing(moto_aws: None, bundle: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    uploader = _load_uploader()
    assert uploader.main([str(bundle), "s3://no-such-bucket/prefix"]) == 6
    assert "error: the bucket no-such-bucket does not exist: nothing uploaded" in capsys.readouterr().err
    assert boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"] == []


def test_uploader_failing_midway_leaves_no_bundle_json_in_the_bucket(moto_aws: None, bundle: Path) -> None:
    """S3 refuses one file (an AccessDenied answer injected at the HTTP layer, as a bucket
    policy would give): the error names it, the upload stops, and bundle.json, uploaded last,
    is not there, so the run is visibly incomplete in the bucket."""
    import boto3
    from botocore.awsrequest import AWSResponse

    uploader = _load_uploader()
    session = boto3.Session(region_name="us-east-1")
    session.client("s3").create_bucket(Bucket="audit-bundles")
    body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"

    class Raw:
        def stream(self, **_: Any) -> Iterable[bytes]:
            yield body

    def refuse_html(request: Any, **_: Any) -> AWSResponse | None:
        if request.method == "PUT" and request.url.split("?")[0].endswith("/report.html"):
            return AWSResponse(request.url, 403, {"Content-Type": "application/xml"}, Raw())
        return None

    session.events.register("before-send.s3.PutObject", refuse_html)
    with pytest.raises(uploader.UploadError, match=r"uploading report.html to s3://audit-bundles/p/"
                                                   r"run-20260101T030000Z/report.html failed .*bundle.json not uploaded"):
        uploader.upload_bundle(bundle, "audit-bundles", "p", session)
    # It stopped there: the files before report.html in its (sorted) order are stored, none
    # after it, and no bundle.json.
    stored = {k.split("/", 2)[2] for k in _objects(session.client("s3"), "audit-bundles")}
    assert {"findings.csv", "findings.json"} <= stored and "bundle.json" not in stored
    assert max(stored) <= "report.html" and "report.pdf" not in stored


def _break(bundle: Path, how: str) -> str:
    """Make the bundle unfinished or changed; returns what the refusal must say."""
    if how == "no manifest":
        (bundle / "bundle.json").unlink()
        return "has no bundle.json: not a finished bundle"
    if how == "changed file":
        (bundle / "findings.csv").write_text("rule,status\nX,PASS\n")
        return "findings.csv does not have the SHA-256 bundle.json records"
    if how == "missing file":
        (bundle / "report.html").unlink()
        return "report.html is listed in bundle.json but missing"
    if how == "added file":
        (bundle / "notes.txt").write_text("added later")
        return "notes.txt is not listed in bundle.json"
    (bundle / "linked.json").symlink_to(bundle / "findings.json")
    return "linked.json is a link or a special file"


@pytest.mark.parametrize("how", ["no manifest", "changed file", "missing file", "added file", "link"])
def test_uploader_refuses_an_unfinished_or_changed_bundle(moto_aws: None, bundle: Path, how: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    uploader = _load_uploader()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="audit-bundles")
    message = _break(bundle, how)
    assert uploader.main([str(bundle), "s3://audit-bundles/p"]) == 2
    err = capsys.readouterr().err
    assert message in err and "nothing uploaded" in err
    assert _objects(s3, "audit-bundles") == {}


@pytest.mark.parametrize("dest", ["audit-bundles/p", "s3://", "https://audit-bundles.s3.amazonaws.com/p"])
def test_uploader_refuses_a_destination_that_is_not_s3(bundle: Path, dest: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _load_uploader().main([str(bundle), dest]) == 2
    err = capsys.readouterr().err
    assert "s3://BUCKET[/PREFIX]" in err or "no bucket in 's3://'" in err


# -- the scheduled run: scan, then upload (subprocesses, a real moto server over HTTP) -----------

@pytest.fixture(scope="module")
def moto_server() -> Iterable[str]:
    with moto_server_url() as url:
        yield url


def _wrapper_env(server: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    (tmp_path / "work").mkdir(exist_ok=True)
    env.update(PATH=f"{BIN}:{env['PATH']}", AWS_ENDPOINT_URL_S3=server, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AUDITOR_WORK_DIR=str(tmp_path / "work"), **extra)
    return env


@pytest.mark.server
def test_scheduled_run_scans_and_uploads_the_bundle(moto_server: str, demo_run: DemoRun, tmp_path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="scheduled-bundles")
    # The config as text alone: without the files it names beside it (the demo's waivers and responses).
    config_text = ((demo_run.out / "inputs" / "audit-config.yaml").read_text(encoding="utf-8")
                   .replace("waivers: demo-waivers.yaml\n", "").replace("responses: demo-responses.yaml\n", ""))
    env = _wrapper_env(moto_server, tmp_path, AUDITOR_CONFIG_TEXT=config_text)
    done = subprocess.run(["sh", str(SCHEDULED_RUN), "s3://scheduled-bundles/nightly",
                           "--snapshot", str(demo_run.out / "snapshot"), "--format", "json,sarif", "--fail-on", "high"],
                          capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    # The demo estate FAILs at high on purpose, and its assessment is complete: the scan's 1.
    assert done.returncode == 1, done.stdout + done.stderr
    (run,) = (tmp_path / "work").glob("run-*")
    assert (run / "bundle.json").exists()
    assert (run / "inputs" / "audit-config.yaml").read_text(encoding="utf-8") == config_text
    assert _objects(s3, "scheduled-bundles") == {f"nightly/{run.name}/{rel}": data for rel, data in _files(run).items()}
    assert "scan exit code 1" in done.stdout


@pytest.mark.server
def test_scheduled_run_with_a_missing_bucket_exits_6_and_keeps_the_bundle(moto_server: str, demo_run: DemoRun,
                                                                           tmp_path: Path) -> None:
    env = _wrapper_env(moto_server, tmp_path)
    done = subprocess.run(["sh", str(SCHEDULED_RUN), "s3://never-made/nightly", "--snapshot",
                           str(demo_run.out / "snapshot"), "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    assert done.returncode == 6, done.stdout + done.stderr
    assert "the bucket never-made does not exist" in done.stderr and "was not uploaded: exit 6" in done.stderr
    (run,) = (tmp_path / "work").glob("run-*")
    assert (run / "bundle.json").exists()


@pytest.mark.server
def test_scheduled_run_with_a_bad_config_exits_2_and_uploads_nothing(moto_server: str, tmp_path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="untouched-bundles")
    env = _wrapper_env(moto_server, tmp_path, AUDITOR_CONFIG_TEXT="version: 1\nregions: [mars-north-1]\n")
    done = subprocess.run(["sh", str(SCHEDULED_RUN), "s3://untouched-bundles/nightly"],
                          capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "left no finished bundle: nothing uploaded" in done.stderr
    assert _objects(s3, "untouched-bundles") == {}


def test_scheduled_run_refuses_a_destination_that_is_not_s3(tmp_path: Path) -> None:
    done = subprocess.run(["sh", str(SCHEDULED_RUN), "/mnt/bundles", "--config", "audit.yaml"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=HANG_GUARD_S)
    assert done.returncode == 2 and "must be s3://BUCKET[/PREFIX]" in done.stderr
    assert list(tmp_path.iterdir()) == []
