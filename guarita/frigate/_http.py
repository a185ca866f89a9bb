"""The one place where aiohttp meets the Frigate client: login, headers, error translation.

Every request carries ``X-Cache-Bypass: 1`` (Frigate's nginx caches JSON for 5 s) and never an
``Origin`` header (Frigate rejects a non-GET with ``Origin`` and no ``X-CSRF-TOKEN``; we also send
``X-CSRF-TOKEN: 1`` on non-GET requests, which Frigate accepts, in case the injected session adds
``Origin`` by default). With credentials, the client logs in with ``POST /api/login``, keeps the
``frigate_token`` JWT and sends it as ``Authorization: Bearer``; on a 401 it logs in once more and
retries. Neither the password nor the token ever appears in a message or a log line.

Covers: PB-01, PB-09.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from guarita.errors import FrigateAuthError, FrigateError, FrigateHttpError, FrigateUnavailable

__all__ = ["FrigateHttp"]

_LOGGER = logging.getLogger(__name__)

TOKEN_COOKIE = "frigate_token"
_CHUNK = 64 * 1024
_MAX_ERROR_BODY = 4096


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and all(value.split("."))


class FrigateHttp:
    """Sends requests to one Frigate, authenticating and translating failures.

    Args:
        session: The caller's session; never closed here.
        base_url: ``http(s)://host:port`` of Frigate, optionally with a path prefix.
        username: Frigate user for port 8971, or None for the unauthenticated port 5000.
        password: That user's password.
        verify_tls: False accepts Frigate's self-signed certificate.
        timeout_s: Limit for a whole request, or between two reads of a download.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        username: str | None,
        password: str | None,
        verify_tls: bool,
        timeout_s: float,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"Frigate base_url must start with http:// or https://: {base_url!r}")
        if (username is None) != (password is None):
            raise ValueError("give both a Frigate username and password, or neither")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._ssl = verify_tls
        self._timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout_s, sock_read=timeout_s
        )
        self._token: str | None = None
        self._login_lock = asyncio.Lock()

    def url(self, path: str) -> str:
        """Full URL of ``/api/<path>``."""
        return f"{self.base_url}/api/{path}"

    # --- login ----------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in now (no-op without credentials); raises FrigateAuthError when refused."""
        if self._username is None:
            return
        async with self._login_lock:
            await self._login_locked()

    async def _refresh_token(self, stale: str | None) -> None:
        async with self._login_lock:
            if self._token is None or self._token == stale:
                if stale is not None:
                    _LOGGER.debug("Frigate at %s refused the session; logging in again", self.base_url)
                self._token = None
                await self._login_locked()

    async def _login_locked(self) -> None:
        url = self.url("login")
        body = {"user": self._username, "password": self._password}
        resp = await self._send("POST", url, params=None, json_body=body, token=None, stream=False)
        async with resp:
            if resp.status == 401:
                raise FrigateAuthError(
                    f"Frigate at {self.base_url} refused the login of user {self._username!r}: "
                    "check this username and password against Frigate > Settings > Users"
                )
            if not 200 <= resp.status < 300:
                raise await self._status_error(resp, url)
            token = self._token_from(resp)
        if token is None:
            raise FrigateAuthError(
                f"Frigate at {self.base_url} accepted the login of user {self._username!r} but set "
                f"no {TOKEN_COOKIE} cookie; is auth.cookie_name changed in Frigate's config?"
            )
        self._token = token

    @staticmethod
    def _token_from(resp: aiohttp.ClientResponse) -> str | None:
        morsel = resp.cookies.get(TOKEN_COOKIE)
        if morsel is not None and morsel.value:
            return morsel.value
        for other in resp.cookies.values():
            if _looks_like_jwt(other.value):
                return other.value
        return None

    # --- requests -------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        stream: bool = False,
        under_api: bool = True,
    ) -> aiohttp.ClientResponse:
        """Send a request and return its 2xx response; the caller must release it.

        ``path`` is under ``/api/``, or with ``under_api=False`` under the root (nginx's
        ``/exports/``, ``/clips/``, ``/recordings/``).

        Raises:
            FrigateUnavailable: Frigate could not be reached.
            FrigateAuthError: the login was refused, or a 401 persisted, or a 403.
            FrigateHttpError: any other non-2xx status.
        """
        url = self.url(path) if under_api else f"{self.base_url}/{path}"
        retried = False
        while True:
            if self._username is not None and self._token is None:
                await self._refresh_token(stale=None)
            token = self._token
            resp = await self._send(
                method, url, params=params, json_body=json_body, token=token, stream=stream
            )
            if resp.status == 401 and self._username is not None and not retried:
                resp.release()
                retried = True
                await self._refresh_token(stale=token)
                continue
            if 200 <= resp.status < 300:
                return resp
            try:
                raise await self._status_error(resp, url)
            finally:
                resp.release()

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Any,
        token: str | None,
        stream: bool,
    ) -> aiohttp.ClientResponse:
        headers = {"X-Cache-Bypass": "1"}
        if method != "GET":
            headers["X-CSRF-TOKEN"] = "1"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        with self._translate(f"{method} {url}"):
            return await self._session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=headers,
                ssl=self._ssl,
                timeout=self._stream_timeout if stream else self._timeout,
                allow_redirects=False,
            )

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """Translate aiohttp, OS and timeout errors into FrigateUnavailable."""
        try:
            yield
        except aiohttp.ClientConnectorCertificateError as exc:
            raise FrigateUnavailable(
                f"the TLS certificate of Frigate at {self.base_url} is not trusted "
                f"({exc.certificate_error}); Frigate's port 8971 uses a self-signed certificate: "
                "set verify_tls to false, or install a trusted certificate in Frigate"
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise FrigateUnavailable(
                f"TLS with Frigate at {self.base_url} failed ({exc}); "
                "check http:// versus https:// and the port (8971 is TLS, 5000 is plain HTTP)"
            ) from exc
        except TimeoutError as exc:
            raise FrigateUnavailable(
                f"Frigate at {self.base_url} did not answer {what} within {self._timeout_s:g} s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise FrigateUnavailable(
                f"cannot reach Frigate at {self.base_url} ({what}): {exc or type(exc).__name__}"
            ) from exc

    async def _status_error(self, resp: aiohttp.ClientResponse, url: str) -> FrigateError:
        status = resp.status
        message = await self._error_message(resp)
        path = url.removeprefix(self.base_url)
        location = resp.headers.get("Location", "")
        if status == 401 or (300 <= status < 400 and "login" in location):
            if self._username is None:
                return FrigateAuthError(
                    f"Frigate at {self.base_url} requires a login for {path} (port 8971 with auth "
                    "enabled): set a Frigate username and password, or use the internal port 5000"
                )
            return FrigateAuthError(
                f"Frigate at {self.base_url} still refuses {path} right after a fresh login of user "
                f"{self._username!r}; check that the user exists and that Frigate's JWT secret is stable"
            )
        if status == 403:
            who = f"user {self._username!r}" if self._username else "the anonymous/proxy user"
            return FrigateAuthError(
                f"Frigate at {self.base_url} denied {path} to {who} (403: {message}); give that user "
                "the admin role or access to this camera in Frigate > Settings > Users"
            )
        return FrigateHttpError(status, message, url)

    async def _error_message(self, resp: aiohttp.ClientResponse) -> str:
        """Take the message from ``{"success": false, "message": ...}``, a bare JSON string, or
        FastAPI's ``{"detail": ...}``; fall back to the HTTP reason."""
        fallback = resp.reason or f"HTTP {resp.status}"
        try:
            raw = await resp.content.read(_MAX_ERROR_BODY)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return fallback
        try:
            body = json.loads(raw)
        except ValueError:
            text = raw.decode("utf-8", "replace").strip()
            return fallback if not text or text.startswith("<") else text[:200]
        if isinstance(body, str):
            return body
        if isinstance(body, dict):
            for key in ("message", "detail"):
                if key in body:
                    value = body[key]
                    return value if isinstance(value, str) else json.dumps(value)[:200]
        return fallback

    # --- bodies ---------------------------------------------------------------------------

    async def read(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> bytes:
        """Send a request and return the whole body of its 2xx answer."""
        resp = await self.request(method, path, params=params, json_body=json_body)
        async with resp:
            with self._translate(f"reading {path}"):
                return await resp.read()

    async def json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Any:
        """Send a request and decode its JSON answer."""
        raw = await self.read(method, path, params=params, json_body=json_body)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise FrigateError(
                f"Frigate at {self.base_url} answered /api/{path} with {len(raw)} bytes that are "
                "not JSON; is base_url pointing at Frigate?"
            ) from exc

    async def download(
        self, path: str, dest: Path, *, params: Mapping[str, str] | None = None, under_api: bool = True
    ) -> int:
        """Stream ``/api/<path>`` (``/<path>`` with ``under_api=False``) into ``dest`` through ``dest.part``.

        Returns the size.

        Raises:
            OSError: ``dest`` cannot be written (not translated: it is a local problem).
        """
        part = dest.with_name(dest.name + ".part")
        size = 0
        resp = await self.request("GET", path, params=params, stream=True, under_api=under_api)
        try:
            async with resp:
                with part.open("wb") as out:
                    while True:
                        with self._translate(f"downloading {path}"):
                            chunk = await resp.content.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        size += len(chunk)
            if size == 0:
                shown = f"/api/{path}" if under_api else f"/{path}"
                raise FrigateError(f"Frigate at {self.base_url} sent an empty body for {shown}")
            part.replace(dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return size
