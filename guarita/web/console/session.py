"""Console sessions: an encrypted cookie, who is signed in, the idle timeout and the CSRF token.

The cookie (``guarita_console``, path ``/console``) is aiohttp-session's
``EncryptedCookieStorage`` (Fernet) keyed with 32 random bytes from ``web.session_key_file``
or ``data_dir/keys/console-session.key`` (0600, made on first run). It is HttpOnly,
SameSite=Strict, and Secure when the request came over TLS (directly, or through a
reverse proxy that says ``X-Forwarded-Proto: https``). It holds only the signed-in name,
how they signed in, when the session was last used and the CSRF token; never a token or a
password. Roles are read from the config at each request, so a role changed (or a user
removed) takes effect at the next start. A session unused for ``web.session_idle_minutes``
is signed out: each request re-encrypts the cookie with a fresh time, and the cookie's
age limit and the ``seen`` time enforce the limit.

Covers: BH-07, BH-09.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session import Session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from guarita.config import ApiRole, GuaritaConfig
from guarita.key_file import make_key_file
from guarita.web.api_http import Caller

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "ConsoleCookies",
    "Operator",
    "csrf_token",
    "get_session",
    "operator_of",
    "session_key",
    "sessions",
    "sign_in",
]

COOKIE = "guarita_console"
CSRF_FIELD = "csrf"
SESSION_KEY_FILE = "console-session.key"


@dataclass(frozen=True)
class Operator:
    """Who is signed in: a ``web.users`` name or a ``web.tokens`` name, with its role."""

    name: str
    role: ApiRole
    agency: str | None
    method: str  # "password" or "token"

    def caller(self) -> Caller:
        """As the API's handlers know a caller."""
        return Caller(self.name, self.role)


def over_tls(request: web.Request) -> bool:
    """Whether the browser reached us over TLS (directly or through a proxy saying so)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


class ConsoleCookies(EncryptedCookieStorage):
    """The encrypted session cookie, marked Secure when the request came over TLS."""

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        await super().save_session(request, response, session)
        if over_tls(request) and self.cookie_name in response.cookies:
            response.cookies[self.cookie_name]["secure"] = True


# The request's session: each request is handled in its own task, so a context variable is
# per request (aiohttp-session's own middleware keeps it under a string key of the request,
# which aiohttp now warns about).
_SESSION: ContextVar[Session] = ContextVar("console_session")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sessions(storage: ConsoleCookies) -> Middleware:
    """Middleware: load the session before the handler, save it (re-encrypted, fresh time) after."""

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        session = await storage.load_session(request)
        _SESSION.set(session)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if not (session.new and session.empty):
                await storage.save_session(request, exc, session)
            raise
        if not response.prepared and not (session.new and session.empty):
            await storage.save_session(request, response, session)
        return response

    return middleware


async def get_session(request: web.Request) -> Session:
    """The session of the request being handled (``sessions`` loaded it)."""
    return _SESSION.get()


def session_key(config: GuaritaConfig) -> bytes:
    """The cookie key: ``web.session_key_file``, or ``data_dir/keys/console-session.key`` made on first run."""
    path = config.web.session_key_file or config.storage.data_dir / "keys" / SESSION_KEY_FILE
    key = make_key_file(path)
    if len(key) != 32:
        raise ValueError(f"{path} (web.session_key_file) must hold exactly 32 bytes, not {len(key)}")
    return key


def csrf_token(session: Session) -> str:
    """The session's CSRF token, made when first asked for."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def sign_in(session: Session, name: str, method: str) -> None:
    """Start a fresh session for ``name`` (a new CSRF token too)."""
    session.invalidate()
    session["who"] = name
    session["method"] = method
    session["seen"] = time.time()
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def _lookup(config: GuaritaConfig, name: str, method: str) -> Operator | None:
    if method == "password":
        user = config.web.users.get(name)
        return None if user is None else Operator(name, user.role, user.agency, method)
    if method == "token":
        token = config.web.tokens.get(name)
        return None if token is None else Operator(name, token.role, token.agency, method)
    return None


async def operator_of(request: web.Request, config: GuaritaConfig, *, touch: bool = True) -> Operator | None:
    """Who the request's session belongs to, or None (no session, idle too long, or name gone).

    ``touch`` records this request as use of the session (not for the live updates stream).
    """
    session = await get_session(request)
    name, method, seen = session.get("who"), session.get("method"), session.get("seen")
    if not isinstance(name, str) or not isinstance(method, str) or not isinstance(seen, (int, float)):
        return None
    now = time.time()
    if now - seen > config.web.session_idle_minutes * 60:
        session.invalidate()
        return None
    operator = _lookup(config, name, method)
    if operator is None:
        session.invalidate()
        return None
    if touch:
        session["seen"] = now
    return operator


def session_expired(session: Session, config: GuaritaConfig) -> bool:
    """Whether the session has been idle past the limit (the live stream checks this as it goes)."""
    seen = session.get("seen")
    return not isinstance(seen, (int, float)) or time.time() - seen > config.web.session_idle_minutes * 60
