"""``WireSession``: the requests a ``requests.Session(trust_env=False)`` sends, byte for byte,
sent through ``http.client`` instead of urllib3's pool and adapters.

The property machines (view invariant, may-see matrix, stateful HTTP) send tens of thousands of
requests a run; through ``requests`` each cost ~435 µs of client CPU against ~140 µs here. The
request is still prepared by requests itself (``PreparedRequest``: method, URL, headers, body)
and its request line is urllib3's (``_encode_target`` of the path), so what goes on the wire is
what requests would send; the answer comes back as a ``requests.Response`` read the way urllib3
reads one (headers joined as its ``HTTPHeaderDict`` joins them, gzip and deflate decoded by its
decoder), so ``.status_code``, ``.headers``, ``.content``, ``.text`` and ``.json()`` are the
same. ``tests/test_wire_client.py`` proves both against a raw socket.

A URL that is not plain http (TLS, or a scheme requests refuses) is sent by requests itself.
Only what those tests use is supported: ``headers``, ``json``, ``data`` (bytes or
text), ``params``, ``timeout`` and ``allow_redirects`` (redirects are followed by requests' own
rules). A cookie or a streamed body raises instead of being handled differently from requests.
"""

from __future__ import annotations

import http.client
import io
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from requests.utils import default_headers, get_encoding_from_headers
from urllib3 import HTTPHeaderDict
from urllib3 import HTTPResponse as Urllib3Response
from urllib3.connection import _get_default_user_agent as _urllib3_user_agent
from urllib3.util.request import _METHODS_NOT_EXPECTING_BODY
from urllib3.util.url import _encode_target
from urllib3.util.wait import wait_for_read

_DEFAULT_HEADERS = default_headers()  # requests.Session's own headers, in its order


# What requests prepares depends on the URL and the headers given alone: each is prepared by
# requests once (so an invalid one raises as requests raises) and its outcome reused. Bounded: a
# machine's run names many URLs.
_URLS: dict[str, str] = {}
_HEADERS: dict[tuple[tuple[Any, Any], ...], CaseInsensitiveDict] = {}
_KEPT = 4096


def _prepared_url(url: str) -> str:
    """``PreparedRequest.prepare_url(url, None)``'s URL."""
    found = _URLS.get(url)
    if found is None:
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, None)
        if len(_URLS) >= _KEPT:
            _URLS.clear()
        found = _URLS[url] = prepared.url
    return found


def _prepared_headers(headers: dict[str, Any] | None) -> CaseInsensitiveDict:
    """A copy of the headers ``requests.Session`` prepares from its own and ``headers`` (one
    set to None taken out), as ``PreparedRequest.prepare_headers`` prepares them."""
    try:
        key = tuple(headers.items()) if headers else ()
        found = _HEADERS.get(key)
    except TypeError:  # a value that cannot be a key: prepared each time
        key, found = None, None
    if found is None:
        merged = CaseInsensitiveDict(_DEFAULT_HEADERS)
        merged.update(headers or {})
        for name in [k for k, v in merged.items() if v is None]:
            del merged[name]
        prepared = requests.PreparedRequest()
        prepared.prepare_headers(merged)
        found = prepared.headers
        if key is not None:
            if len(_HEADERS) >= _KEPT:
                _HEADERS.clear()
            _HEADERS[key] = found
    return found.copy()


class WireSession:
    """A ``requests.Session(trust_env=False)`` for plain-http loopback servers, cheaper: one
    kept-alive ``http.client`` connection per host and port."""

    def __init__(self) -> None:
        self._connections: dict[tuple[str, int], http.client.HTTPConnection] = {}
        self._redirects = _Redirects(self)
        self._fallback = requests.Session()
        self._fallback.trust_env = False

    def prepare(
        self,
        method: str,
        url: str,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        params: Any = None,
    ) -> requests.PreparedRequest:
        """The request as ``requests.Session.prepare_request`` prepares it (no auth, no
        cookies: a trust_env=False session that has received none)."""
        if data is not None and not isinstance(data, (bytes, str)):
            raise TypeError(f"WireSession sends bytes or text data, not {type(data).__name__}")
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method.upper())
        if params is None and type(url) is str:
            prepared.url = _prepared_url(url)
        else:
            prepared.prepare_url(url, params)
        prepared.headers = _prepared_headers(headers)
        prepared.prepare_body(data, None, json)
        prepared._cookies = RequestsCookieJar()  # empty: no Cookie header, as requests sends
        prepared.hooks = {"response": []}
        return prepared

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        params: Any = None,
        timeout: float | None = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        prepared = self.prepare(method, url, headers, json, data, params)
        answer = self.send(prepared, timeout=timeout)
        if answer.is_redirect:  # requests' own rules, as its Session.send applies them
            if allow_redirects:
                hops = self._redirects.resolve_redirects(answer, prepared, timeout=timeout)
                history = [answer, *hops]
                answer = history.pop()
                answer.history = history
            else:
                follow = self._redirects.resolve_redirects(answer, prepared, yield_requests=True)
                answer._next = next(follow, None)
        return answer

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def send(self, prepared: requests.PreparedRequest, **options: Any) -> requests.Response:
        """One request as prepared, one answer: no redirect followed."""
        parts = urlsplit(prepared.url)
        if parts.scheme != "http":  # TLS, or a scheme requests refuses: requests itself
            return self._fallback.send(prepared, allow_redirects=False, **options)
        target = _encode_target(prepared.path_url)
        body = prepared.body.encode("utf-8") if isinstance(prepared.body, str) else prepared.body
        key = (parts.hostname or "", parts.port or 80)
        try:
            return self._exchange(key, prepared, target, body, options.get("timeout"))
        except TimeoutError as error:
            raise requests.ReadTimeout(error, request=prepared) from error
        except (OSError, http.client.HTTPException) as error:  # refused, reset, cut short
            raise requests.ConnectionError(error, request=prepared) from error

    def _exchange(
        self,
        key: tuple[str, int],
        prepared: requests.PreparedRequest,
        target: str,
        body: bytes | None,
        timeout: float | None,
    ) -> requests.Response:
        connection = self._connections.get(key)
        if connection is not None and _dropped(connection):
            connection.close()
            connection = None
        if connection is None:
            connection = http.client.HTTPConnection(key[0], key[1], timeout=timeout)
            self._connections[key] = connection
        elif connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            names = {name.lower() for name in prepared.headers}
            connection.putrequest(
                prepared.method,
                target,
                skip_host="host" in names,
                skip_accept_encoding="accept-encoding" in names,
            )
            # framing and User-Agent where requests left them out, as urllib3 adds them
            if "content-length" not in names and "transfer-encoding" not in names:
                if body is not None:
                    connection.putheader("Content-Length", str(len(body)))
                elif prepared.method not in _METHODS_NOT_EXPECTING_BODY:
                    connection.putheader("Content-Length", "0")
            if "user-agent" not in names:
                connection.putheader("User-Agent", _urllib3_user_agent())
            for name, value in prepared.headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            if body:
                connection.send(body)
            raw = connection.getresponse()
            content = raw.read()
        except BaseException:
            connection.close()
            del self._connections[key]
            raise
        if raw.will_close:
            connection.close()
            del self._connections[key]
        return _response(prepared, raw, content)

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
        self._fallback.close()

    def __enter__(self) -> WireSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def request(method: str, url: str, **kwargs: Any) -> requests.Response:
    """``requests.request``: one request on a session of its own, closed after."""
    with WireSession() as session:
        return session.request(method, url, **kwargs)


class _Redirects(requests.Session):
    """requests' ``resolve_redirects`` (method, body, Authorization and fragment rules), each
    hop sent by the ``WireSession``."""

    def __init__(self, wire: WireSession) -> None:
        super().__init__()
        self.trust_env = False
        self.wire = wire

    def send(self, request: requests.PreparedRequest, **options: Any) -> requests.Response:
        return self.wire.send(request, **options)


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """The server closed the kept-alive connection (urllib3 checks the same before reuse)."""
    if connection.sock is None:
        return True
    return wait_for_read(connection.sock, timeout=0.0)  # poll(): select() ends at fd 1024


def _response(
    prepared: requests.PreparedRequest, raw: http.client.HTTPResponse, content: bytes
) -> requests.Response:
    """A ``requests.Response`` as requests' adapter builds one from urllib3's response."""
    headers = HTTPHeaderDict(raw.msg.items())
    if "set-cookie" in headers:
        raise NotImplementedError("WireSession keeps no cookies, as requests would")
    if "content-encoding" in headers:  # decoded by urllib3's own decoders
        content = Urllib3Response(
            body=io.BytesIO(content), headers=headers, status=raw.status, preload_content=True
        ).data
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.reason = raw.reason
    response.url = prepared.url
    response.request = prepared
    response.elapsed = timedelta(0)
    response.history = []
    response._content = content
    response._content_consumed = True
    return response
