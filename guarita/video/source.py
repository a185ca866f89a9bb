"""Where a camera's live video is pulled from, with its credentials kept out of every log line.

Frigate's restream (go2rtc) is the default: ``rtsp://<host of frigate.url>:<video.restream_port>/
<stream>``, where ``stream`` is the camera's ``stream`` key or its name. A camera with a
``video.source`` is pulled from that address instead, its user and password (from
``password_file``/``password_env``) put in only when the command is built. ``shown`` is what
logs and errors may print: the address with its password as ``***``.

Covers: BH-07, BH-11.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from guarita.adapters.rtsp import mask_credentials, with_credentials
from guarita.config import GuaritaConfig

__all__ = ["VideoSource", "camera_source"]


@dataclass(frozen=True)
class VideoSource:
    """An RTSP address to pull: ``url`` may carry credentials and is never printed; ``shown`` is masked."""

    url: str = field(repr=False)
    shown: str


def camera_source(config: GuaritaConfig, camera: str) -> VideoSource:
    """The source of ``camera``'s live view (it must be in the config)."""
    settings = config.cameras[camera]
    if settings.video is not None:
        password = settings.video.password.get_secret_value() if settings.video.password else None
        url = with_credentials(settings.video.source, settings.video.username, password)
        return VideoSource(url, mask_credentials(url))
    host = urlsplit(config.frigate.url).hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    url = f"rtsp://{host}:{config.video.restream_port}/{settings.stream or camera}"
    return VideoSource(url, url)
