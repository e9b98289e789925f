"""An HTTP 200 whose body is an error document is a failed call (issue 10, item 6).

botocore trusts the status code: a 200 carrying ``<Response><Errors>`` (EC2),
``<ErrorResponse>`` (query APIs such as STS) or a JSON ``__type`` body used to be parsed as
an empty success, and the resources the call should have listed vanished without a gap.
Faults are injected as fake HTTP replies through a ``before-send`` hook against moto, so
botocore's parsing runs exactly as it would against AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse

from auditor.collect.replies import SOURCE_NOTE, error_in_reply
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.snapshot.records import GLOBAL_REGION
from auditor.snapshot.writer import SnapshotWriter

from conftest import HOME_ACCOUNT, Injector, _Raw, ec2_error, in_region, make_config, make_network, sts_error


def run(snapshot_dir: Path, hooks: list[Any], regions: tuple[str, ...] = ("us-east-1", "eu-west-1")) -> Any:
    factory = SessionFactory(max_attempts=3, hooks=hooks)
    return collect(make_config((), regions), factory, SnapshotWriter(snapshot_dir, keep=True))


def errors_of(manifest: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    return [e for e in manifest["errors"] if e["operation"] == operation]


def json_reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> AWSResponse:
    return AWSResponse("https://example.amazonaws.com/", status,
                       {"Content-Type": "application/json", **(headers or {})}, _Raw(json.dumps(body).encode()))


def test_ec2_error_document_in_a_200_is_a_failed_call(moto_aws: None, snapshot_dir: Path) -> None:
    net = make_network(HOME_ACCOUNT, "eu-west-1")
    deny = Injector("before-send.ec2.DescribeSubnets",
                    lambda req, n: ec2_error(200, "UnauthorizedOperation", "You are not authorized."),
                    match=in_region("eu-west-1"))
    result = run(snapshot_dir, [deny])

    [err] = errors_of(result.manifest, "DescribeSubnets")
    assert (err["region"], err["kind"], err["code"], err["http_status"]) == (
        "eu-west-1", "aws", "UnauthorizedOperation", 200)
    assert err["message"] == f"You are not authorized. {SOURCE_NOTE}"
    assert not result.complete
    # Never a successful empty answer: the record holds the error and no page.
    [rec] = [r for r in result.records if r.operation == "DescribeSubnets" and r.region == "eu-west-1"]
    assert not rec.ok and rec.pages == ()
    # The neighbours are untouched.
    [vpcs] = [r for r in result.records if r.operation == "DescribeVpcs" and r.region == "eu-west-1"]
    assert vpcs.ok and net.vpc_id in {v["VpcId"] for v in vpcs.items("Vpcs")}


def test_query_error_response_in_a_200_makes_the_account_unreachable(moto_aws: None, snapshot_dir: Path) -> None:
    sts = Injector("before-send.sts.GetCallerIdentity",
                   lambda req, n: sts_error(200, "ExpiredToken", "The security token included in the request is "
                                                                 "expired"))
    result = run(snapshot_dir, [sts], regions=("us-east-1",))

    [err] = errors_of(result.manifest, "GetCallerIdentity")
    assert (err["region"], err["code"], err["http_status"]) == (GLOBAL_REGION, "ExpiredToken", 200)
    [problem] = result.manifest["account_problems"]
    assert "sts:GetCallerIdentity failed: ExpiredToken" in problem["message"]
    assert not result.complete


def test_json_error_body_in_a_200_is_a_failed_call(moto_aws: None, snapshot_dir: Path) -> None:
    # rest-json (EKS, Lambda): the error type in the body, or in the x-amzn-ErrorType header.
    eks = Injector("before-send.eks.ListClusters",
                   lambda req, n: json_reply(200, {"__type": "AccessDeniedException", "message": "denied"}))
    lam = Injector("before-send.lambda.ListFunctions",
                   lambda req, n: json_reply(200, {"Message": "throttled"},
                                             {"x-amzn-ErrorType": "TooManyRequestsException:"}))
    result = run(snapshot_dir, [eks, lam], regions=("us-east-1",))

    [e1] = errors_of(result.manifest, "ListClusters")
    assert (e1["code"], e1["http_status"], e1["message"]) == ("AccessDeniedException", 200, f"denied {SOURCE_NOTE}")
    [e2] = errors_of(result.manifest, "ListFunctions")
    assert (e2["code"], e2["http_status"]) == ("TooManyRequestsException", 200)
    # DescribeCluster runs per listed cluster: with the listing failed it is not attempted.
    [dc] = errors_of(result.manifest, "DescribeCluster")
    assert dc["kind"] == "not_attempted" and "ListClusters" in dc["message"]


def test_ordinary_replies_are_not_errors() -> None:
    headers: dict[str, str] = {}
    ok_ec2 = b'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeVpcsResponse xmlns="x"><vpcSet/></DescribeVpcsResponse>'
    assert not error_in_reply("ec2", 200, ok_ec2, headers)
    assert error_in_reply("ec2", 200, b'<?xml version="1.0"?>\n<Response><Errors/></Response>', headers)
    assert error_in_reply("query", 200, b"<ErrorResponse><Error/></ErrorResponse>", headers)
    assert not error_in_reply("query", 200, b"<GetCallerIdentityResponse/>", headers)
    assert not error_in_reply("json", 200, b'{"Functions": [{"Description": "__type"}]}', headers)
    assert error_in_reply("json", 200, b'{"__type": "X", "message": "m"}', headers)
    assert not error_in_reply("ec2", 400, b"<Response><Errors/></Response>", headers)  # botocore's own case
    assert not error_in_reply("rest-json", 200, b"", headers)


def test_a_200_json_reply_that_is_not_json_is_a_failed_call(moto_aws: None, snapshot_dir: Path) -> None:
    # botocore reads undecodable JSON as {"message": body}: an empty success for a 200.
    cut = Injector("before-send.lambda.ListFunctions",
                   lambda req, n: AWSResponse("https://lambda.us-east-1.amazonaws.com/", 200,
                                              {"Content-Type": "application/json"},
                                              _Raw(b'{"Functions": [{"FunctionName": "f", "Environment": {"Vari')))
    result = run(snapshot_dir, [cut], regions=("us-east-1",))
    [err] = errors_of(result.manifest, "ListFunctions")
    assert err["code"] == "UnparseableResponse" and "not valid JSON" in err["message"]
    assert "Vari" not in err["message"]  # the body is never quoted into the evidence
