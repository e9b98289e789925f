"""AWS's wire formats, driven by botocore's service models: answers as HTTP reply bodies, and
requests back into (service, operation, parameters).

`Wire.reply(service, operation, data)` serialises `data` (a dict in botocore's output shape,
as the collector records it: timestamps as ISO 8601 strings) into the body the service's
protocol sends: the ``ec2`` protocol (``<OpResponse>`` with ``<requestId>``, members under their
``locationName``, lists as ``<item>``), ``query`` (rds, elb, elbv2, sts: the output inside
its ``<OpResult>`` wrapper, lists as ``<member>``, ``<ResponseMetadata>``), ``json``
(organizations: member names, timestamps as epoch seconds) and ``rest-json`` (eks, lambda:
``locationName``, header members as headers). Serialisation is strict: a key the output
shape does not declare, or a value of the wrong type, raises `WireError` naming its path,
so an answer that botocore would silently drop or misread cannot be sent.

`Wire.error(...)` writes each protocol's error document (EC2's
``<Response><Errors><Error>``, query's ``<ErrorResponse>``, json's ``__type``, rest-json's
``x-amzn-ErrorType`` header). `Wire.decode(...)` reads a request: service and region from
the SigV4 credential scope, the operation from ``Action`` / ``X-Amz-Target`` / the REST
route, the top-level parameters by their wire names.

Faithfulness is tested, not assumed: tests/test_fleet.py parses every generated reply with
botocore's own parser (`botocore.parsers.create_parser`) and requires the very dict it was
made from back.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

# boto3 client names the fleet answers for (the collector's catalogue, sts, organizations).
SERVICES = ("ec2", "sts", "rds", "elb", "elbv2", "organizations", "eks", "lambda")
# Values AWS really sends that botocore's enums leave out (AWS's own documentation and CLI
# output show them); anything else outside an enum is refused.
OFF_ENUM = frozenset({
    ("AttachmentStatus", "available"),        # an internet gateway's attachment state
    ("State", "available"),                   # a VPC endpoint's state, lower case
    ("NetworkInterfaceType", "nat_gateway"),  # a NAT gateway's network interface
})
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class WireError(ValueError):
    """An answer that does not fit the AWS output shape (its path and why)."""


class RequestError(WireError):
    """A request that cannot be read, with the AWS error code to answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Request:
    """A decoded API request. `params` holds the top-level input members by member name
    (scalars typed by their shape); `filtered` says whether any Filter was given."""

    service: str
    region: str
    access_key: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    filtered: bool = False


class Wire:
    """Serialiser and request reader for the `SERVICES`, from botocore's bundled models."""

    def __init__(self) -> None:
        import botocore.loaders
        import botocore.model

        loader = botocore.loaders.create_loader()
        self.models: dict[str, Any] = {
            name: botocore.model.ServiceModel(loader.load_service_model(name, "service-2"), service_name=name)
            for name in SERVICES}
        self.paginators: dict[str, dict[str, Any]] = {}
        for name in SERVICES:
            try:
                self.paginators[name] = loader.load_service_model(name, "paginators-1")["pagination"]
            except Exception:  # noqa: BLE001 - a service without paginators
                self.paginators[name] = {}
        # SigV4 signing name -> boto3 names (elb and elbv2 share "elasticloadbalancing").
        self.by_signing: dict[str, list[str]] = {}
        for name, model in self.models.items():
            self.by_signing.setdefault(model.signing_name, []).append(name)
        self._routes: dict[str, list[tuple[str, re.Pattern[str], Any]]] = {}
        for name, model in self.models.items():
            if model.protocol == "rest-json":
                self._routes[name] = [self._route(model.operation_model(op)) for op in model.operation_names]

    # -- replies -------------------------------------------------------------------------
    def protocol(self, service: str) -> str:
        return str(self.models[service].protocol)

    def reply(self, service: str, operation: str, data: Mapping[str, Any], request_id: str = "fleet") -> Reply:
        """`data` as the HTTP reply of `operation` (raises WireError if it does not fit)."""
        model = self.models[service]
        op = model.operation_model(operation)
        shape = op.output_shape
        protocol = model.protocol
        if protocol in ("ec2", "query"):
            parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']
            ns = f"http://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/"
            parts.append(f'<{operation}Response xmlns="{ns}">')
            if protocol == "ec2":
                parts.append(f"<requestId>{request_id}</requestId>")
                if shape is not None:
                    self._xml_members(shape, data, parts, operation)
            else:
                wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
                if shape is not None:
                    parts.append(f"<{wrapper}>" if wrapper else "")
                    self._xml_members(shape, data, parts, operation)
                    parts.append(f"</{wrapper}>" if wrapper else "")
                parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
            if shape is None and data:
                raise WireError(f"{service}:{operation} has no output, got {sorted(data)}")
            parts.append(f"</{operation}Response>")
            return Reply(200, {"Content-Type": "text/xml;charset=UTF-8", "x-amzn-RequestId": request_id},
                         "".join(parts).encode())
        headers = {"x-amzn-RequestId": request_id}
        body: Any = {}
        status = 200
        if shape is not None:
            payload = shape.serialization.get("payload")
            for key, value in data.items():
                member = shape.members.get(key)
                if member is None:
                    raise WireError(f"{operation}.{key}: not a member of {shape.name}")
                location = member.serialization.get("location")
                if location == "header":
                    headers[member.serialization.get("name", key)] = str(self._json(member, value, key))
                elif location == "statusCode":
                    status = int(value)
                elif payload:
                    if key == payload:
                        body = self._json(member, value, f"{operation}.{key}")
                else:
                    body[member.serialization.get("name", key)] = self._json(member, value, f"{operation}.{key}")
        elif data:
            raise WireError(f"{service}:{operation} has no output, got {sorted(data)}")
        ctype = (f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}" if protocol == "json"
                 else "application/json")
        headers["Content-Type"] = ctype
        return Reply(status, headers, json.dumps(body, separators=(",", ":")).encode())

    def error(self, service: str, code: str, message: str, status: int = 400, request_id: str = "fleet") -> Reply:
        """The protocol's error document for `code`."""
        protocol = self.models[service].protocol if service in self.models else "query"
        msg = escape(message)
        if protocol == "ec2":
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
                    f"<Message>{msg}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
            return Reply(status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode())
        if protocol == "query":
            kind = "Receiver" if status >= 500 else "Sender"
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="http://fleet/doc/">'
                    f"<Error><Type>{kind}</Type><Code>{escape(code)}</Code><Message>{msg}</Message></Error>"
                    f"<RequestId>{request_id}</RequestId></ErrorResponse>")
            return Reply(status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode())
        if protocol == "json":
            return Reply(status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id},
                         json.dumps({"__type": code, "message": message}).encode())
        return Reply(status, {"Content-Type": "application/json", "x-amzn-RequestId": request_id,
                              "x-amzn-ErrorType": code}, json.dumps({"message": message}).encode())

    # -- XML ------------------------------------------------------------------------------
    def _xml_members(self, shape: Any, data: Mapping[str, Any], parts: list[str], path: str) -> None:
        if not isinstance(data, Mapping):
            raise WireError(f"{path}: a structure ({shape.name}) needs a dict, got {type(data).__name__}")
        members = shape.members
        for key, value in data.items():
            member = members.get(key)
            if member is None:
                raise WireError(f"{path}.{key}: not a member of {shape.name}")
            if member.type_name == "list" and member.serialization.get("flattened"):
                name = member.member.serialization.get("name") or member.serialization.get("name", key)
                self._check_list(value, f"{path}.{key}")
                for i, item in enumerate(value):
                    self._xml(member.member, item, name, parts, f"{path}.{key}[{i}]")
            else:
                self._xml(member, value, member.serialization.get("name", key), parts, f"{path}.{key}")

    @staticmethod
    def _check_list(value: Any, path: str) -> None:
        if not isinstance(value, (list, tuple)):
            raise WireError(f"{path}: a list needs a list, got {type(value).__name__}")

    def _xml(self, shape: Any, value: Any, name: str, parts: list[str], path: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            parts.append(f"<{name}>")
            self._xml_members(shape, value, parts, path)
            parts.append(f"</{name}>")
        elif kind == "list":
            self._check_list(value, path)
            item_name = shape.member.serialization.get("name", "member")
            parts.append(f"<{name}>")
            for i, item in enumerate(value):
                self._xml(shape.member, item, item_name, parts, f"{path}[{i}]")
            parts.append(f"</{name}>")
        elif kind == "map":
            if not isinstance(value, Mapping):
                raise WireError(f"{path}: a map needs a dict, got {type(value).__name__}")
            key_name = shape.key.serialization.get("name") or "key"
            value_name = shape.value.serialization.get("name") or "value"
            flat = shape.serialization.get("flattened")
            parts.append("" if flat else f"<{name}>")
            for k, v in value.items():
                parts.append(f"<{name}>" if flat else "<entry>")
                self._xml(shape.key, k, key_name, parts, f"{path}.key")
                self._xml(shape.value, v, value_name, parts, f"{path}[{k!r}]")
                parts.append(f"</{name}>" if flat else "</entry>")
            parts.append("" if flat else f"</{name}>")
        else:
            parts.append(f"<{name}>{escape(self._scalar(shape, value, path))}</{name}>")

    @staticmethod
    def _scalar(shape: Any, value: Any, path: str) -> str:
        kind = shape.type_name
        if kind == "string":
            if not isinstance(value, str):
                raise WireError(f"{path}: a string needs str, got {type(value).__name__} {value!r}")
            if shape.enum and value not in shape.enum and (shape.name, value) not in OFF_ENUM:
                raise WireError(f"{path}: {value!r} is not one of {shape.name}'s values {shape.enum}")
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise WireError(f"{path}: a boolean needs bool, got {type(value).__name__} {value!r}")
            return "true" if value else "false"
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise WireError(f"{path}: an integer needs int, got {type(value).__name__} {value!r}")
            return str(value)
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise WireError(f"{path}: a number needs float, got {type(value).__name__} {value!r}")
            return repr(float(value))
        if kind == "timestamp":
            return _iso(_timestamp(value, path))
        if kind == "blob":
            if not isinstance(value, (bytes, bytearray)):
                raise WireError(f"{path}: a blob needs bytes, got {type(value).__name__}")
            return base64.b64encode(bytes(value)).decode()
        raise WireError(f"{path}: shape type {kind} is not supported")

    # -- JSON -----------------------------------------------------------------------------
    def _json(self, shape: Any, value: Any, path: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, Mapping):
                raise WireError(f"{path}: a structure ({shape.name}) needs a dict, got {type(value).__name__}")
            out = {}
            for key, v in value.items():
                member = shape.members.get(key)
                if member is None:
                    raise WireError(f"{path}.{key}: not a member of {shape.name}")
                out[member.serialization.get("name", key)] = self._json(member, v, f"{path}.{key}")
            return out
        if kind == "list":
            self._check_list(value, path)
            return [self._json(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, Mapping):
                raise WireError(f"{path}: a map needs a dict, got {type(value).__name__}")
            return {self._scalar(shape.key, k, f"{path}.key"): self._json(shape.value, v, f"{path}[{k!r}]")
                    for k, v in value.items()}
        if kind == "timestamp":
            return _timestamp(value, path).timestamp()
        if kind in ("integer", "long", "boolean"):
            self._scalar(shape, value, path)
            return value
        if kind in ("float", "double"):
            return float(self._scalar(shape, value, path))
        return self._scalar(shape, value, path)

    # -- requests -------------------------------------------------------------------------
    def decode(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Request:
        """A request's service, region, access key, operation and top-level parameters.

        `headers` are lower-cased. Raises RequestError when the request cannot be read."""
        match = _CREDENTIAL.search(headers.get("authorization", ""))
        if not match:
            raise RequestError("MissingAuthenticationToken", "Request is missing Authentication Token")
        access_key, region, signing = match.groups()
        candidates = self.by_signing.get(signing)
        if not candidates:
            raise RequestError("UnknownService", f"the fleet does not emulate service {signing!r}")
        path, _, query = target.partition("?")
        model = self.models[candidates[0]]
        protocol = model.protocol
        if protocol in ("ec2", "query"):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            form.update(parse_qsl(query, keep_blank_values=True))
            version = form.get("Version", "")
            service = next((c for c in candidates if self.models[c].api_version == version), candidates[0])
            action = form.get("Action", "")
            return self._query_request(service, region, access_key, action, form)
        if protocol == "json":
            operation = headers.get("x-amz-target", "").rpartition(".")[2]
            if operation not in self.models[candidates[0]].operation_names:
                raise RequestError("UnknownOperationException", f"unknown operation {operation!r}")
            try:
                params = json.loads(body or b"{}")
            except ValueError as exc:
                raise RequestError("SerializationException", f"the body is not JSON: {exc}") from None
            if not isinstance(params, dict):
                raise RequestError("SerializationException", "the body is not a JSON object")
            return Request(candidates[0], region, access_key, operation, params)
        service = candidates[0]
        for verb, pattern, op in self._routes[service]:
            found = pattern.fullmatch(path)
            if verb == method and found:
                found_params: dict[str, Any] = {}
                labels = {k: unquote(v) for k, v in found.groupdict().items()}
                qs = dict(parse_qsl(query, keep_blank_values=True))
                for name, member in (op.input_shape.members.items() if op.input_shape else ()):
                    where, wire = member.serialization.get("location"), member.serialization.get("name", name)
                    raw = labels.get(wire.rstrip("+")) if where == "uri" else qs.get(wire) if where == "querystring" \
                        else None
                    if raw is not None:
                        found_params[name] = int(raw) if member.type_name in ("integer", "long") else raw
                return Request(service, region, access_key, op.name, found_params)
        raise RequestError("UnknownOperationException", f"no {service} operation at {method} {path}")

    def _query_request(self, service: str, region: str, access_key: str, action: str,
                       form: Mapping[str, str]) -> Request:
        model = self.models[service]
        if action not in model.operation_names:
            code = "InvalidAction"
            raise RequestError(code, f"The action {action or '(none)'} is not valid for this web service.")
        op = model.operation_model(action)
        params: dict[str, Any] = {}
        ec2 = model.protocol == "ec2"
        for name, member in (op.input_shape.members.items() if op.input_shape else ()):
            if ec2:
                loc = member.serialization.get("name")
                wire = member.serialization.get("queryName") or (loc[0].upper() + loc[1:] if loc else name)
            else:
                wire = member.serialization.get("name", name)
            if wire in form and member.type_name not in ("list", "structure", "map"):
                raw = form[wire]
                try:
                    params[name] = int(raw) if member.type_name in ("integer", "long") else (
                        raw == "true" if member.type_name == "boolean" else raw)
                except ValueError:
                    raise RequestError("InvalidParameterValue", f"{wire}={raw!r} is not a number") from None
        filtered = any(k.startswith(("Filter.", "Filters.")) for k in form)
        return Request(service, region, access_key, action, params, filtered)

    @staticmethod
    def _route(op: Any) -> tuple[str, re.Pattern[str], Any]:
        uri = op.http["requestUri"].split("?")[0]
        pattern = re.sub(r"\{([^}+]+)\+?\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(uri).replace(
            r"\{", "{").replace(r"\}", "}"))
        return op.http.get("method", "GET"), re.compile(pattern.rstrip("/") + "/?"), op


def _timestamp(value: Any, path: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise WireError(f"{path}: {value!r} is not an ISO 8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise WireError(f"{path}: a timestamp needs an ISO 8601 string, got {type(value).__name__}")


def _iso(value: dt.datetime) -> str:
    text = value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"
