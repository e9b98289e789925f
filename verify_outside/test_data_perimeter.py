"""The endpoint-policy analyzer against AWS's own data-perimeter policies (outside data:
aws-samples/data-perimeter-policy-examples, MIT-0, read from `--outside-data DIR`, never
copied into this repository). With the placeholders replaced by an organisation, third-party
accounts and a region, every endpoint policy is scoped to the organisation and AWS service
principals, the S3 one also lets any principal read AWS-owned buckets, and the resource
control policies only deny (docs/endpoint-policies.md has the table of verdicts).
"""

from __future__ import annotations

from pathlib import Path

from auditor.analyze.policy import Policy, analyze, parse_policy, principals_outside, resources_outside

ORG = "o-abc1234567"

SUBSTITUTIONS = {
    "<my-org-id>": ORG, "<region>": "eu-west-1", "<RegionWithoutDashes>": "euwest1",
    "<third-party-account-a>": "222222222222", "<third-party-account-b>": "333333333333",
    "<glue-account-id>": "444444444444", "<ecr-account-id>": "555555555555", "<service-account-id>": "666666666666",
    "<CodeArtifact-Region-Account>": "777777777777", "<string>": "sample", "<action>": "s3:PutObject",
    "<third-party-resource-arn>": "arn:aws:s3:::partner-exchange/*",
}
def perimeter(root: Path, name: str, folder: str = "vpc_endpoint_policies") -> Policy:
    """One of AWS's policies with its placeholders replaced by the values above."""
    text = (root / folder / name).read_text(encoding="utf-8")
    for placeholder, value in SUBSTITUTIONS.items():
        text = text.replace(placeholder, value)
    return parse_policy(text)


def test_the_data_perimeter_folder_is_the_known_one(perimeter_dir: Path) -> None:
    notice = (perimeter_dir / "NOTICE.md").read_text(encoding="utf-8")
    assert "aws-samples/data-perimeter-policy-examples" in notice and "MIT-0" in notice
    assert len(list((perimeter_dir / "vpc_endpoint_policies").glob("*.json"))) == 10


def test_data_perimeter_endpoint_policies_are_scoped(endpoint_policy: str, perimeter_dir: Path) -> None:
    name = endpoint_policy
    p = perimeter(perimeter_dir, name)
    found = analyze(p)
    assert not found.placeholders
    assert not found.default_full_access and not found.unscoped
    # Principals: the organisation and AWS service principals (plus named third parties for S3).
    assert found.principals.organisations == (ORG,) and found.principals.any_service
    # The dp:exclude:resource tag exception is present, and reported as not modelled.
    assert any("aws:PrincipalTag/dp:exclude:resource (StringEquals)" in u for u in found.unmodelled)
    trusted = [ORG, "*.amazonaws.com", "222222222222", "333333333333"]
    if name == "s3_endpoint_policy.json":
        assert found.principals.accounts == ("222222222222", "333333333333")
        # Any principal may read AWS-owned buckets (package repositories, ECR layers, SSM) and nothing else.
        assert found.principals.any_principal and "any resource" not in found.any_principal_reaches
        assert "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*" in found.any_principal_reaches
        assert "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*" in found.resources.arns
        assert principals_outside(p, []) == (
            "s3:GetObject by any principal on arn:aws:s3:::packages.eu-west-1.amazonaws.com/*")
        assert principals_outside(p, trusted) == (
            "s3:GetObject by a principal outside o-abc1234567, accounts 222222222222, 333333333333 and service "
            "principals *.amazonaws.com on arn:aws:s3:::packages.eu-west-1.amazonaws.com/*")
    else:
        assert not found.principals.any_principal and found.principals.accounts == ()
        assert principals_outside(p, []) is None
        assert principals_outside(p, trusted) is None
        assert principals_outside(p, [ORG]) is not None and "by any AWS service principal" in str(
            principals_outside(p, [ORG]))


def test_data_perimeter_counter_examples(perimeter_dir: Path) -> None:
    default = perimeter(perimeter_dir, "default_endpoint_policy.json")
    assert principals_outside(default, [ORG]) == "any action by any AWS service principal on any resource"
    assert resources_outside(default, [ORG]) == (
        "any action by a principal in o-abc1234567 on a resource outside o-abc1234567 (allowed by statement 2 "
        "(Sid AllowRequestsByOrgsIdentitiesToAnyResources) if its condition on aws:PrincipalTag/dp:exclude:resource "
        "(StringEquals) holds, which the analyzer does not model)")
    ecr = analyze(perimeter(perimeter_dir, "ecr.api_endpoint_policy.json"))
    assert ecr.resources.accounts == ("555555555555",) and ecr.resources.organisations == (ORG,)
    ssm = analyze(perimeter(perimeter_dir, "ssm_endpoint_policy.json"))
    assert ssm.resources.arns == ("arn:aws:ssm:eu-west-1::parameter/aws/*", "arn:aws:ssm:eu-west-1::document/*",
                                  "arn:aws:ssm:*::automation-definition/*")
    s3 = perimeter(perimeter_dir, "s3_endpoint_policy.json")
    assert resources_outside(s3, [ORG]) == (
        "s3:GetObject by any principal on arn:aws:s3:::packages.eu-west-1.amazonaws.com/*")


def test_data_perimeter_rcps_parse_and_their_unmodelled_denies_are_not_counted(rcp: str, perimeter_dir: Path) -> None:
    found = analyze(perimeter(perimeter_dir, rcp, "resource_control_policies"))
    assert found.ignored_denies and not found.default_full_access
    assert not found.principals.any_principal  # RCPs only deny: they allow nothing themselves
