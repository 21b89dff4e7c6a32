"""TEST-ONLY TOKEN STUB, not part of mockdrive: a forward proxy in front of mockdrive's own
proxy that answers ``login.microsoftonline.com`` itself (a fixed access token for any
``refresh_token`` grant, 200 for anything else there) and passes every other connection through
to mockdrive unchanged. It stands in for a real token endpoint until mockdrive serves the login
hosts; the CA it signs the login host with is written beside mockdrive's."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from pathlib import Path

LOGIN_HOST = "login.microsoftonline.com"


class TokenStubProxy:
    """Listens on loopback; ``url`` is what the client's ``https_proxy`` names."""

    def __init__(self, upstream: tuple[str, int], access_token: str, tls_dir: Path) -> None:
        import trustme

        self.upstream = upstream
        self.access_token = access_token
        ca = trustme.CA(organization_name="test-only token stub CA")
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(LOGIN_HOST).configure_cert(self.context)
        self.ca_path = tls_dir / "token-stub-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self.redeemed: list[dict[str, str]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self.accept, "127.0.0.1", 0), self.loop
        ).result(10)
        self.server = server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        async def shut() -> None:
            self.server.close()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode("latin-1")
            if head.upper().startswith(b"CONNECT ") and target.lower().startswith(LOGIN_HOST):
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                await writer.start_tls(self.context)
                await self.serve_login(reader, writer)
            else:
                await self.pass_through(head, reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def pass_through(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        up_writer.write(head)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def serve_login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status, answer = 200, b"{}"
            if method == "POST" and path.endswith("/oauth2/v2.0/token"):
                from urllib.parse import parse_qsl

                form = dict(parse_qsl(body.decode()))
                self.redeemed.append(form)
                if form.get("grant_type") == "refresh_token" and form.get("refresh_token"):
                    answer = json.dumps(
                        {
                            "token_type": "Bearer",
                            "expires_in": 3600,
                            "access_token": self.access_token,
                            "refresh_token": form["refresh_token"],
                        }
                    ).encode()
                else:
                    status, answer = 400, b'{"error": "invalid_grant"}'
            reason = "OK" if status == 200 else "Bad Request"
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(answer)}\r\n\r\n".encode()
                + (answer if method != "HEAD" else b"")
            )
            await writer.drain()
