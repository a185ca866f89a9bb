"""Helpers of ``guarita cameras``: passwords from the environment, the YAML edit, snapshots, evidence.

``add_camera_to_yaml`` edits Guarita's config with ruamel.yaml's round-trip mode, so comments,
key order, quoting and indentation stay as the operator wrote them, and checks the result with the
config loader before anything is written. ``masked_evidence`` (in ``guarita.masked_evidence``,
which the API imports without this module's ONVIF stack) gives the image a public-facing
attestation records.

Covers: PB-02, PB-07, BH-02, BH-04, BH-07.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import aiohttp
from onvif import ONVIFCamera  # type: ignore[import-untyped]
from onvif.exceptions import ONVIFAuthError, ONVIFError  # type: ignore[import-untyped]
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from guarita.adapters.onvif import OnvifAuthError, OnvifError, OnvifProbe, OnvifUnreachable, probe_onvif
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.errors import ConfigError
from guarita.masked_evidence import CameraCommandError, masked_evidence

__all__ = ["CameraCommandError", "add_camera_to_yaml", "masked_evidence", "onvif_snapshot",
           "onvif_target", "probe_lines", "read_password"]


def read_password(variable: str | None) -> str:
    """The password held by environment variable ``variable``.

    Raises:
        CameraCommandError: no variable named, or it is not set.
    """
    if not variable:
        raise CameraCommandError("name the environment variable holding the camera's password with --password-env")
    value = os.environ.get(variable)
    if value is None:
        raise CameraCommandError(f"environment variable {variable} is not set (export {variable}=... first)")
    return value


def onvif_target(value: str) -> tuple[str, int]:
    """``HOST[:PORT]`` as (host, port); port 80 when omitted."""
    host, colon, port = value.rpartition(":")
    if not colon:
        return value, 80
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CameraCommandError(f"--onvif {value}: the port must be a number from 1 to 65535")
    return host, int(port)


def probe_lines(probe: OnvifProbe) -> list[str]:
    """What ``cameras probe --onvif`` prints about the device."""
    device = probe.device
    lines = [f"{device.manufacturer} {device.model} (serial {device.serial}, firmware {device.firmware}, "
             f"hardware {device.hardware_id or '-'}) at {probe.host}:{probe.port}",
             f"MAC {probe.mac or 'not reported by the camera'}"]
    if probe.clock_skew_s is not None:
        lines.append(f"camera clock {probe.camera_time:%Y-%m-%d %H:%M:%S} UTC, {round(probe.clock_skew_s):+d} s from this "
                     "computer" + ("  WARNING: set its NTP, recordings will be misdated" if abs(probe.clock_skew_s) > 5
                                   else ""))
    lines.append(f"profiles ({probe.media or 'none'}):")
    lines += [f"  {p.describe()}  {p.stream_uri or 'no stream URI'}" for p in probe.profiles]
    return lines


def _parse_location(value: str) -> CommentedMap:
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError:
        raise CameraCommandError(f"--location {value}: give LAT,LON in degrees, e.g. -19.9245,-43.9352") from None
    location = CommentedMap()
    location["lat"], location["lon"] = lat, lon
    location.fa.set_flow_style()
    return location


def add_camera_to_yaml(path: Path, name: str, *, programs: str, location: str | None, heading: float | None) -> str:
    """The text of ``path`` with camera ``name`` added under ``cameras:``, checked by the config loader.

    Raises:
        CameraCommandError: the file cannot be read, or the result is not a valid config (nothing is written).
        ConfigError: from the loader, with line and key of each problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CameraCommandError(f"cannot read {path}: {exc.strerror}") from None
    data, indent, block_seq_indent = load_yaml_guess_indent(text)
    yaml = YAML()
    yaml.preserve_quotes = True
    indent = indent or 2
    yaml.indent(mapping=indent, sequence=indent + (block_seq_indent or 0), offset=block_seq_indent or 0)
    data = yaml.load(text)
    cameras = data.get("cameras")
    if cameras is None:
        cameras = data["cameras"] = CommentedMap()
    entry = CommentedMap()
    listed = CommentedSeq(p.strip() for p in programs.split(",") if p.strip())
    listed.fa.set_flow_style()
    entry["programs"] = listed
    if location:
        entry["location"] = _parse_location(location)
    if heading is not None:
        entry["heading"] = int(heading) if float(heading).is_integer() else heading
    entry["privacy_masks"] = CommentedSeq()
    entry["privacy_masks"].fa.set_flow_style()
    cameras[name] = entry
    cameras.yaml_set_comment_before_after_key(name, before="Added by `guarita cameras add`: draw privacy_masks on "
                                              "its snapshot", indent=indent)
    out = io.StringIO()
    yaml.dump(data, out)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=path.parent, encoding="utf-8", delete=False) as trial:
        trial.write(out.getvalue())
    try:
        load_config(Path(trial.name))
    except ConfigError as exc:
        raise ConfigError([replace(p, file=str(path), message=f"{p.message} (with camera {name} added; nothing "
                                   "was written)") for p in exc.problems]) from None
    finally:
        os.unlink(trial.name)
    return out.getvalue()


async def onvif_snapshot(host: str, port: int, username: str, password: str) -> bytes:
    """A JPEG from the first H.264/H.265 profile's ONVIF snapshot URI (Digest, then Basic auth).

    Raises:
        OnvifError: the camera cannot be read, has no snapshot URI, or refuses the image.
    """
    probe = await probe_onvif(host, port, username, password, require_h26x=False)
    profile = next((p for p in probe.profiles if p.snapshot_uri), None)
    if profile is None:
        raise OnvifError(f"the camera at {host}:{port} offers no snapshot URI; use Frigate's (drop --onvif)")
    camera = ONVIFCamera(host, port, username, password, no_cache=True)
    try:
        await camera.update_xaddrs()
        image = None
        for basic in (False, True):
            try:
                image = await camera.get_snapshot(profile.token, basic_auth=basic)
            except ONVIFAuthError:
                continue
            if image:
                break
    except (ONVIFError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise OnvifUnreachable(f"the camera at {host}:{port} did not send its snapshot ({type(exc).__name__})") from exc
    finally:
        await camera.close()
    if not image:
        raise OnvifAuthError(f"the camera at {host}:{port} refused its snapshot to user {username!r}")
    return bytes(image)
