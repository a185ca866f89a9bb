"""The Frigate camera entry for a probed camera, in the keys of the running Frigate (0.14 to 0.17).

``build_frigate_camera`` turns the streams the RTSP adapter classified (``record`` and, when
there is one, ``detect``) into ``cameras.<name>``: ``ffmpeg.inputs`` with their roles, ``detect``
sized from the detect stream, and ``record`` with the retention keys of the running version,
``record.retain`` up to 0.16 and ``record.continuous`` from 0.17 (Frigate forbids unknown keys,
so an obsolete key would make its config invalid). With ``restream``, the camera's streams go to
go2rtc (``go2rtc.streams``) and Frigate reads them back from ``rtsp://127.0.0.1:8554/<stream>``.
The password never enters the entry: it becomes a ``{FRIGATE_<NAME>_RTSP_PASSWORD}`` placeholder,
which Frigate fills from its environment. ``apply_frigate_camera`` sends the entry with
``PUT /api/config/set`` (JSON body, Frigate 0.16+) and returns Frigate's answer. Frigate checks
every ``{FRIGATE_*}`` placeholder against its own process environment right then and answers a
bare 400 "Error parsing config" when one is missing (the variable is named only in its log), so
that refusal is turned into a message naming the entry's variables: Frigate must have them and
be restarted before ``--apply``.

Covers: PB-02, PB-07, BH-07.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ruamel.yaml import YAML

from guarita.adapters.rtsp import StreamRoles
from guarita.errors import FrigateHttpError, GuaritaError
from guarita.frigate import FrigateClient, FrigateVersion

__all__ = [
    "CONFIG_SET_JSON_SINCE",
    "FrigateCameraEntry",
    "FrigateCameraError",
    "apply_frigate_camera",
    "build_frigate_camera",
    "password_placeholder",
    "retention_keys",
]

SUPPORTED_MINORS = range(14, 18)
CONFIG_SET_JSON_SINCE = (0, 16)
"""``PUT /api/config/set`` reads a JSON ``config_data`` body from Frigate 0.16 on (0.14/0.15: query only)."""
DETECT_FPS = 5
RESTREAM_BASE = "rtsp://127.0.0.1:8554"
_PLACEHOLDER = re.compile(r"\{(FRIGATE_[A-Za-z0-9_]*)\}")


class FrigateCameraError(GuaritaError):
    """No camera entry can be made or applied for this Frigate (version, answer)."""


def password_placeholder(camera: str) -> str:
    """The Frigate environment variable holding ``camera``'s RTSP password, e.g. ``FRIGATE_PORTARIA_RTSP_PASSWORD``."""
    return "FRIGATE_" + re.sub(r"[^A-Z0-9]+", "_", camera.upper()).strip("_") + "_RTSP_PASSWORD"


def _placeholder_uri(uri: str, variable: str) -> tuple[str, bool]:
    """``uri`` with its password replaced by ``{variable}``; also whether there was one."""
    parts = urlsplit(uri)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return uri, False
    user = userinfo.partition(":")[0]
    netloc = f"{user}:{{{variable}}}@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), True


def retention_keys(version: FrigateVersion, days: float) -> dict[str, Any]:
    """``record`` retention of continuous footage in the keys ``version`` accepts."""
    whole: int | float = int(days) if float(days).is_integer() else days
    if version.minor >= 17:
        return {"continuous": {"days": whole}}
    return {"retain": {"days": whole, "mode": "all"}}


@dataclass(frozen=True)
class FrigateCameraEntry:
    """The entry for one camera, ready to print as YAML or to send to Frigate.

    Attributes:
        name: Frigate camera name.
        version: The Frigate version the keys are for.
        camera: ``cameras.<name>``.
        go2rtc_streams: ``go2rtc.streams`` entries (empty without restream).
        password_env: The ``FRIGATE_*`` variable Frigate must have, or None without a password.
    """

    name: str
    version: FrigateVersion
    camera: dict[str, Any] = field(repr=False)
    go2rtc_streams: dict[str, list[str]] = field(repr=False)
    password_env: str | None

    def config_data(self) -> dict[str, Any]:
        """The part of Frigate's config this entry sets."""
        data: dict[str, Any] = {"cameras": {self.name: self.camera}}
        if self.go2rtc_streams:
            data = {"go2rtc": {"streams": self.go2rtc_streams}} | data
        return data

    def variables(self) -> list[str]:
        """Every ``FRIGATE_*`` variable the entry's ``{...}`` placeholders name, in order."""
        found: list[str] = []
        for name in _PLACEHOLDER.findall(repr(self.config_data())):
            if name not in found:
                found.append(name)
        return found

    def set_body(self) -> dict[str, Any]:
        """The ``PUT /api/config/set`` JSON body (restart needed: Frigate starts cameras at boot)."""
        return {"requires_restart": 1, "update_topic": None, "config_data": self.config_data()}

    def yaml(self) -> str:
        """The entry as YAML to paste into Frigate's config."""
        out = io.StringIO()
        yaml = YAML()
        yaml.default_flow_style = False
        yaml.width = 4096  # one URI per line
        yaml.indent(mapping=2, sequence=4, offset=2)
        yaml.dump(self.config_data(), out)
        return out.getvalue()


def build_frigate_camera(name: str, roles: StreamRoles, version: FrigateVersion, *, restream: bool = False,
                         retain_days: float = 7, detect_fps: int = DETECT_FPS) -> FrigateCameraEntry:
    """Make ``cameras.<name>`` (and go2rtc streams) for ``roles`` in the keys of ``version``.

    Raises:
        FrigateCameraError: ``version`` is outside 0.14-0.17, or ``name`` is not a Frigate camera name.
    """
    if version.major != 0 or version.minor not in SUPPORTED_MINORS:
        raise FrigateCameraError(f"Frigate {version} is not supported (0.14 to 0.17): its config keys are unknown "
                                 "here, and writing guessed keys could make its config invalid")
    if not re.fullmatch(r"[a-zA-Z0-9_-]+", name):
        raise FrigateCameraError(f"camera name {name!r}: Frigate accepts letters, digits, '_' and '-' only")
    variable = password_placeholder(name)
    record_uri, has_secret = _placeholder_uri(roles.record.uri, variable)
    detect_uri = _placeholder_uri(roles.detect.uri, variable)[0] if roles.detect else None
    streams: dict[str, list[str]] = {}
    if restream:
        streams[name] = [record_uri]
        record_uri = f"{RESTREAM_BASE}/{quote(name)}"
        if detect_uri:
            streams[f"{name}_sub"] = [detect_uri]
            detect_uri = f"{RESTREAM_BASE}/{quote(name)}_sub"
    extra = {"input_args": "preset-rtsp-restream"} if restream else {}
    if detect_uri:
        inputs = [{"path": record_uri, "roles": ["record"]} | extra, {"path": detect_uri, "roles": ["detect"]} | extra]
    else:
        inputs = [{"path": record_uri, "roles": ["record", "detect"]} | extra]
    detect = roles.detect_stream
    camera: dict[str, Any] = {
        "ffmpeg": {"inputs": inputs},
        "detect": {"enabled": True, "width": detect.width, "height": detect.height,
                   "fps": min(detect_fps, int(detect.fps) or detect_fps)},
        "record": {"enabled": True} | retention_keys(version, retain_days),
    }
    return FrigateCameraEntry(name=name, version=version, camera=camera, go2rtc_streams=streams,
                              password_env=variable if has_secret else None)


async def apply_frigate_camera(client: FrigateClient, entry: FrigateCameraEntry) -> str:
    """Send ``entry`` to Frigate (``PUT /api/config/set``) and return Frigate's message.

    Raises:
        FrigateCameraError: the running Frigate is older than 0.16 (no JSON body form), another version
            than the entry was built for, it answered ``success: false``, or it refused an entry
            with ``{FRIGATE_*}`` placeholders (the message names the variables it must have).
        FrigateError: Frigate could not be reached or refused (an invalid config comes back as 400).
    """
    running = await client.version()
    if running.release[:2] < CONFIG_SET_JSON_SINCE:
        raise FrigateCameraError(
            f"Frigate {running} takes config changes over its API only as a query string; paste the printed "
            "YAML into Frigate's config editor (Settings > Configuration editor) and restart it"
        )
    if running.minor != entry.version.minor:
        raise FrigateCameraError(f"the entry was made for Frigate {entry.version} but {running} runs; make it again")
    try:
        answer = await client.set_config(entry.set_body())
    except FrigateHttpError as exc:
        variables = entry.variables()
        if exc.status != 400 or not variables:
            raise
        names = ", ".join(variables)
        raise FrigateCameraError(
            f"Frigate refused camera {entry.name} (HTTP 400, \"Error parsing config\"): the entry uses "
            f"{', '.join('{' + name + '}' for name in variables)}, and Frigate checks each against its own "
            f"environment when the change arrives. Set {names} in Frigate's environment (docker compose "
            "`environment:` or its .env file), restart Frigate, then run this command again with --apply. "
            "Frigate's log names the variable it lacks. Nothing was changed in Frigate or in Guarita's config"
        ) from exc
    message = str(answer.get("message", ""))
    if answer.get("success") is not True:
        raise FrigateCameraError(f"Frigate did not take camera {entry.name}: {message or answer}")
    return message
