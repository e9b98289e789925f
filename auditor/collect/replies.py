"""Reply checking: an error document in an HTTP 200 reply is a failed call.

botocore decides success from the HTTP status alone. A proxy, a gateway or a broken endpoint
can answer 200 with an error document (the EC2 query API's ``<Response><Errors>``, the query
API's ``<ErrorResponse>``, a JSON body with ``__type``); botocore then parses it against the
operation's output shape and returns an *empty success*, and every resource the call should
have listed would vanish without a gap. This hook, installed on every collector session,
looks at each 200 reply's body before it is trusted and raises botocore's ``ClientError``
with the document's own code and message (HTTP status 200 kept), so the call is recorded as
a collection error like any other AWS error. A 200 JSON reply that is not JSON at all
(botocore would read it as an empty success too) is recorded as unparseable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError, create_parser

# The root element of an XML error document: <ErrorResponse> (query, rest-xml), <Response>
# (EC2: a success's root is always <OperationNameResponse>), <Error> (rest-xml).
_XML_ERROR = re.compile(rb"\A\s*(?:<\?xml[^>]*\?>\s*)?<(ErrorResponse|Response|Error)[\s>]")
_XML_PROTOCOLS = frozenset({"query", "ec2", "rest-xml"})
_JSON_PROTOCOLS = frozenset({"json", "rest-json"})
SOURCE_NOTE = "(an error document in an HTTP 200 reply)"


def _json_error(body: bytes, headers: Any) -> bool:
    if headers.get("x-amzn-ErrorType") or headers.get("x-amzn-errortype"):
        return True
    if not body.lstrip().startswith(b"{") or b"__type" not in body:
        return False
    try:
        doc = json.loads(body)
    except ValueError:
        return False  # the normal parser reports what it cannot read
    return isinstance(doc, dict) and "__type" in doc


def error_in_reply(protocol: str, status: int, body: bytes, headers: Any) -> bool:
    """True when a 2xx reply of `protocol` carries an error document instead of an answer."""
    if not 200 <= status < 300 or not body:
        return False
    if protocol in _XML_PROTOCOLS:
        return _XML_ERROR.match(body[:512]) is not None
    if protocol in _JSON_PROTOCOLS:
        return _json_error(body, headers)
    return False


def _before_parse(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    # before-parse, not after-call: botocore's parser can itself fail on an error document
    # read as an answer (a query <ErrorResponse> has no result wrapper: KeyError).
    if operation_model.has_streaming_output:
        return  # the body is a stream (the catalogue has no such call)
    service = operation_model.service_model
    protocol = getattr(service, "resolved_protocol", None) or service.protocol
    status = int(response_dict.get("status_code") or 0)
    body = response_dict.get("body") or b""
    headers = response_dict.get("headers") or {}
    if not isinstance(body, bytes):
        return
    if protocol in _JSON_PROTOCOLS and 200 <= status < 300 and body.strip():
        # botocore reads a JSON body it cannot decode as {"message": body}: for a 200 that is
        # an empty success. A reply we cannot read is a failed call (the body is not quoted:
        # it could hold anything).
        try:
            json.loads(body)
        except ValueError as exc:
            raise ResponseParserError(f"the HTTP {status} reply of {operation_model.name} is not valid JSON "
                                      f"({type(exc).__name__} at {getattr(exc, 'pos', '?')})") from None
    if not error_in_reply(protocol, status, body, headers):
        return
    # Let botocore's own parser read the document as the error it is (it decides by status).
    error = create_parser(protocol).parse({"status_code": 400, "headers": headers, "body": body},
                                          operation_model.output_shape)
    err = error.setdefault("Error", {})
    err["Code"] = err.get("Code") or "ErrorInSuccessfulReply"
    err["Message"] = f"{err.get('Message') or 'no message'} {SOURCE_NOTE}"
    error.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = status
    raise ClientError(error, operation_model.name)


def install(botocore_session: Any) -> None:
    """Install the reply check on a botocore session (idempotent)."""
    botocore_session.unregister("before-parse", _before_parse, unique_id="auditor-reply-check")
    botocore_session.register("before-parse", _before_parse, unique_id="auditor-reply-check")
