"""Which DVR source a vehicle's ``dvr.source`` URL means, and that URL made safe to show.

``open_source`` picks the transport by the URL's scheme: ``http``/``https`` (a directory
listing), ``ftp`` or ``file`` (a mounted SD card or USB disk). The password always comes
from ``password_file``/``password_env`` (``DvrConfig.password``); ``redact_url`` drops any
password a URL carries anyway, so no log line or error ever shows one.

Covers: PB-06, DT-10, DT-14.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from guarita.errors import DvrError

if TYPE_CHECKING:
    from aiohttp import ClientSession

    from guarita.adapters.dvr.source import DvrSource
    from guarita.config import DvrConfig

__all__ = ["SCHEMES", "open_source", "redact_url"]

SCHEMES = ("http", "https", "ftp", "file")


def redact_url(url: str) -> str:
    """``url`` with any password removed from its userinfo (the user name stays).

    >>> redact_url("ftp://dvr:s3cret@10.0.0.7:21/rec/")
    'ftp://dvr@10.0.0.7:21/rec/'
    """
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url
    user = userinfo.partition(":")[0]
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def open_source(dvr: DvrConfig, *, session: ClientSession | None = None) -> DvrSource:
    """The ``DvrSource`` for ``dvr.source``; use it as ``async with open_source(dvr) as source``.

    Args:
        dvr: The vehicle's DVR section; its password is already resolved by the loader.
        session: An aiohttp session to share (http/https only); by default the source opens
            and closes its own.

    Raises:
        DvrError: the URL's scheme is none of http, https, ftp, file.
    """
    scheme = urlsplit(dvr.source).scheme.lower()
    password = dvr.password.get_secret_value() if dvr.password is not None else None
    if scheme in ("http", "https"):
        from guarita.adapters.dvr.http_source import HttpDvrSource

        return HttpDvrSource(dvr.source, password=password, verify_tls=dvr.verify_tls, session=session)
    if scheme == "ftp":
        from guarita.adapters.dvr.ftp_source import FtpDvrSource

        return FtpDvrSource(dvr.source, password=password)
    if scheme == "file":
        from guarita.adapters.dvr.folder_source import FolderDvrSource

        return FolderDvrSource.from_url(dvr.source)
    raise DvrError(
        f"DVR {dvr.serial}: source {redact_url(dvr.source)!r} has scheme {scheme or 'none'!r}; "
        f"use one of {', '.join(SCHEMES)}"
    )

