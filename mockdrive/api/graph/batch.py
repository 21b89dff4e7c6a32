"""JSON batching: ``POST /v1.0/$batch`` (and ``/beta/$batch``).

Each sub-request is turned into an ordinary aiohttp request and sent through the application
itself, so it passes the same pipeline as a single request: authentication with the batch's
token, access checks, fault rules (a rule can throttle or fail one sub-request), policy, the
outbox and the journal (each sub-request is journaled with a link to its batch).

Sub-requests run one after another in the order given, which is one of the orders the service
may use; a request whose ``dependsOn`` names a request that failed answers 424 and runs nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import hdrs, web
from multidict import CIMultiDict
from yarl import URL

from ...model.errors import InvalidRequest
from ..aiohttp_internals import inner_request, serve
from ..jsonio import PARSED_BODY, fast_json_response, read_json_object
from ..onedrive_v1 import ACTION_SUFFIXES
from .paths import normalize_path

MAX_BATCH_REQUESTS = 20  # the service's limit
BATCH_OF = web.RequestKey("batch_of", dict) if hasattr(web, "RequestKey") else "batch_of"
# The batch's own headers every sub-request carries, replacing any of the step's own: a step
# runs as the batch's caller, on the host the batch came to (so the URLs it hands out work).
INHERITED_HEADERS = ("Authorization", "Host")
# Headers of a sub-response that say nothing about it (they belong to the outer answer).
DROPPED_RESPONSE_HEADERS = {"content-length", "date", "server", "transfer-encoding"}
FAILED_DEPENDENCY = 424
# Headers about the connection or the framing of a body: a step has neither of its own.
HOP_HEADERS = ("Connection", "Content-Encoding", "Content-Length", "Expect", "Keep-Alive", "TE",
               "Trailer", "Transfer-Encoding", "Upgrade")  # fmt: skip


@dataclass(slots=True)
class BatchStep:
    id: str
    method: str
    url: str  # relative to the version, with its query string: ``/me/drive?$select=id``
    headers: dict[str, str]
    body: bytes
    depends_on: list[str]


def parse_batch(body: dict[str, Any]) -> list[BatchStep]:
    """Validate the whole batch before anything runs: a malformed batch is a 400, nothing run."""
    requests = body.get("requests")
    if not isinstance(requests, list):
        raise InvalidRequest("the batch needs a 'requests' array")
    if not requests:
        raise InvalidRequest("the batch has no requests")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise InvalidRequest(
            f"Number of batch request steps exceeds the maximum of {MAX_BATCH_REQUESTS}."
        )
    steps: list[BatchStep] = []
    seen: set[str] = set()  # ids are not case-sensitive
    for index, raw in enumerate(requests):
        steps.append(_parse_step(index, raw))
        key = steps[-1].id.casefold()
        if key in seen:
            raise InvalidRequest(f"the batch has more than one request with id {steps[-1].id!r}")
        seen.add(key)
    earlier: set[str] = set()
    for step in steps:
        for dependency in step.depends_on:
            if dependency.casefold() not in seen:
                raise InvalidRequest(
                    f"request {step.id!r} depends on {dependency!r}, which is not in the batch"
                )
            if dependency.casefold() not in earlier:
                raise InvalidRequest(
                    f"request {step.id!r} depends on {dependency!r}, which must come before it"
                )
        earlier.add(step.id.casefold())
    return steps


def _parse_step(index: int, raw: object) -> BatchStep:
    where = f"requests[{index}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where} must be an object")
    step_id, method, url = raw.get("id"), raw.get("method"), raw.get("url")
    if not isinstance(step_id, str) or not step_id:
        raise InvalidRequest(f"{where}.id must be a non-empty string")
    if not isinstance(method, str) or method.upper() not in hdrs.METH_ALL:
        raise InvalidRequest(f"{where}.method must be an HTTP method")
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest(f"{where}.url must be a relative URL such as /me/drive")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidRequest(f"{where}.headers must be an object of strings")
    for name, value in headers.items():
        if not name or any(c in name + value for c in "\r\n\0"):
            raise InvalidRequest(f"{where}.headers has a header that cannot be sent")
    # msgraph-sdk (msgraph-core 1.x) writes ``depends_on``; the documented name is ``dependsOn``.
    depends_on = raw.get("dependsOn", raw.get("depends_on")) or []
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise InvalidRequest(f"{where}.dependsOn must be an array of request ids")
    return BatchStep(
        id=step_id,
        method=method.upper(),
        url=_relative_url(where, url),
        headers=headers,
        body=_step_body(where, raw, headers),
        depends_on=depends_on,
    )


_ABSOLUTE = re.compile("[A-Za-z][A-Za-z0-9+.-]*://")


def _relative_url(where: str, url: str) -> str:
    """``/me/drive``, ``me/drive`` or (as some SDKs send it) an absolute URL with its version."""
    url = url.strip()
    if _ABSOLUTE.match(url):  # a scheme first: ``root://Plan.docx:`` is a relative path
        try:  # a malformed host or port: ``http://[::1``, ``http://a:b/``, port 65536
            parsed = URL(url)
            query = parsed.raw_query_string
            url = parsed.raw_path + (f"?{query}" if query else "")
        except ValueError as error:  # UnicodeError (a host IDNA refuses) included
            raise InvalidRequest(f"{where}.url is not a valid URL: {error}") from None
        for version in ("/v1.0", "/beta"):
            if url.startswith(version + "/"):
                url = url[len(version) :]
                break
        else:
            raise InvalidRequest(f"{where}.url must be relative to the Graph version")
    if not url.startswith("/"):
        url = "/" + url
    for version in ("/v1.0/", "/beta/"):  # the JavaScript SDK keeps the version in the URL
        if url.startswith(version):
            url = url[len(version) - 1 :]
            break
    path = url.partition("?")[0]
    segments = [unquote(s) for s in path.split("/")[1:]]
    if any(c in url for c in "\r\n\0 ") or any(s in (".", "..") for s in segments):
        raise InvalidRequest(f"{where}.url is not a valid relative URL")
    if segments[0].lower() in ("$batch", "%24batch"):
        raise InvalidRequest(f"{where}.url: a batch cannot contain another batch")
    return url


def _step_body(where: str, raw: dict[str, Any], headers: dict[str, str]) -> bytes:
    if "body" not in raw or raw["body"] is None:
        return b""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content_type is None:
        raise InvalidRequest(f"{where} has a body, so its headers need a Content-Type")
    body = raw["body"]
    if isinstance(body, str) and "json" not in content_type.lower():
        try:  # a non-JSON body travels base64-encoded (the docs allow the URL-safe alphabet)
            padded = body + "=" * (-len(body) % 4)
            return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{where}.body is not valid base64") from None
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


async def handle_batch(request: web.Request, version: str, batch_id: str) -> web.Response:
    """Run a parsed batch step by step through the application; answer 200 with every outcome.

    ``batch_id`` is the batch's own request id, which each step's journal entry links to.
    """
    steps = parse_batch(await read_json_object(request))
    request[PARSED_BODY] = {"requests": len(steps)}  # each step is journaled on its own
    statuses: dict[str, int] = {}
    responses = []
    for step in steps:
        failed = [d for d in step.depends_on if not 200 <= statuses.get(d.casefold(), 0) < 300]
        if failed:
            item = _failed_dependency(step, failed)
        elif _is_legacy_onedrive(step.url):
            item = _not_batchable(step)
        else:
            sub = _sub_request(request, version, step, batch_id)
            response = await serve(request.app, sub)  # the whole pipeline, as for any request
            item = _response_item(step.id, response, with_body=step.method != "HEAD")
        statuses[step.id.casefold()] = item["status"]
        responses.append(item)
    return fast_json_response({"responses": responses})


def _is_legacy_onedrive(url: str) -> bool:
    """The older OneDrive API's ``action.*`` routes: that API batched with multipart, never
    inside a Graph JSON batch. Told as the server tells them (``dialect_of``): the path, in
    the one form the routes read, ends with an action (``action%2Einvite`` is one; a file
    named ``action.log`` is not)."""
    try:
        return normalize_path(url.partition("?")[0]).endswith(ACTION_SUFFIXES)
    except InvalidRequest:  # not UTF-8: the step is refused as the same request alone is
        return False


def _sub_request(batch: web.Request, version: str, step: BatchStep, batch_id: str) -> web.Request:
    """A request the application serves like one that arrived on the batch's connection: the
    step's method, URL, headers and body, the batch's caller and host."""
    headers = CIMultiDict(step.headers)
    for name in HOP_HEADERS:
        headers.popall(name, None)
    for name in INHERITED_HEADERS:
        if name in batch.headers:
            headers[name] = batch.headers[name]
        else:
            headers.popall(name, None)
    if "client-request-id" in batch.headers:
        headers.setdefault("client-request-id", batch.headers["client-request-id"])
    sub = inner_request(batch, step.method, version + step.url, headers, step.body)
    sub[BATCH_OF] = {"requestId": batch_id, "id": step.id}
    return sub


def _response_item(
    step_id: str, response: web.StreamResponse, with_body: bool = True
) -> dict[str, Any]:
    """A step's answer as the batch lists it; ``with_body`` False for a ``HEAD``, whose body
    alone never leaves the server (aiohttp leaves it out on the wire)."""
    headers = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in DROPPED_RESPONSE_HEADERS
    }
    if response.content_type and response.content_type != "application/octet-stream":
        headers.setdefault("Content-Type", response.headers.get("Content-Type", ""))
    raw = response.body if isinstance(response, web.Response) and with_body else None
    body: Any = {}
    if isinstance(raw, (bytes, bytearray)) and raw:
        if response.content_type == "application/json":
            body = json.loads(raw)
        else:  # non-JSON content travels base64-encoded, as the service sends it
            body = base64.b64encode(raw).decode("ascii")
    return {"id": step_id, "status": response.status, "headers": headers, "body": body}


def _not_batchable(step: BatchStep) -> dict[str, Any]:
    message = (
        "mockdrive does not implement the older OneDrive API's action.* routes inside a "
        "Graph JSON batch (that API batched with multipart/mixed); send this request alone"
    )
    return _error_item(step, 501, "notImplemented", message)


def _failed_dependency(step: BatchStep, failed: list[str]) -> dict[str, Any]:
    message = f"request {step.id!r} was not run: request {failed[0]!r} it depends on failed"
    return _error_item(step, FAILED_DEPENDENCY, "failedDependency", message)


def _error_item(step: BatchStep, status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "id": step.id,
        "status": status,
        "headers": {"Content-Type": "application/json"},
        "body": {"error": {"code": code, "message": message}},
    }
