"""``guarita cameras discover | probe | add | snapshot``: onboarding a client's camera from a shell.

``discover`` lists the ONVIF cameras that answer WS-Discovery (with ``--user``, also their make,
model and serial). ``probe`` reads one camera (ONVIF, or RTSP URIs) and its streams. ``add``
probes, adds the camera to Guarita's YAML file (round-trip: comments and layout kept) and prints
the Frigate entry for the running Frigate's version, or sends it (``--apply``, ``PUT
/api/config/set``). ``snapshot`` saves a still from Frigate's ``latest.jpg`` or the camera's ONVIF
snapshot URI, with ``--masked`` blanking the camera's ``privacy_masks``. Passwords are read from
an environment variable (``--password-env``), never from the command line, and never printed.

Covers: PB-02, PB-07, BH-02, BH-04, BH-07.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from guarita.cli.cameras_support import (
    CameraCommandError,
    add_camera_to_yaml,
    onvif_snapshot,
    onvif_target,
    probe_lines,
    read_password,
)
from guarita.adapters.onvif import OnvifError, discover, probe_onvif
from guarita.adapters.rtsp import StreamRoles, probe_streams, with_credentials
from guarita.cli.common import cli_config
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config, resolve_config_path
from guarita.frigate import FrigateVersion
from guarita.frigate_check import frigate_client
from guarita.frigate_camera import CONFIG_SET_JSON_SINCE, apply_frigate_camera, build_frigate_camera
from guarita.privacy_mask import mask_jpeg

__all__ = ["add_cameras_commands"]


def _emit(args: argparse.Namespace, lines: list[str], document: object) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str) if args.json else "\n".join(lines))


# ---- discover --------------------------------------------------------------------------
async def _discover(args: argparse.Namespace) -> int:
    cameras = await discover(args.timeout, source_address=args.source_address)
    password = read_password(args.password_env) if args.user else None
    rows, lines = [], [f"{len(cameras)} ONVIF camera(s) answered in {args.timeout:g} s"]
    for camera in cameras:
        row = camera.as_dict()
        lines.append(f"{camera.host}:{camera.port}  name {camera.name or '-'}  hardware {camera.hardware or '-'}  "
                     f"location {camera.location or '-'}  ({camera.endpoint or 'no endpoint id'})")
        if args.user:
            try:
                probe = await probe_onvif(camera.host, camera.port, args.user, password or "", require_h26x=False)
            except OnvifError as exc:
                row["error"] = str(exc)
                lines.append(f"  cannot log in: {exc}")
            else:
                device = probe.device
                row["device"] = probe.as_dict()["device"]
                lines.append(f"  {device.manufacturer} {device.model}, serial {device.serial}, firmware "
                             f"{device.firmware}, MAC {probe.mac or 'not reported'}")
        rows.append(row)
    _emit(args, lines, rows)
    return 0


# ---- probe -----------------------------------------------------------------------------
async def _roles(args: argparse.Namespace) -> tuple[StreamRoles, dict[str, Any], list[str]]:
    """Probe the camera the arguments name; return its stream roles, JSON and text lines."""
    password = read_password(args.password_env) if args.password_env else None
    if args.onvif:
        host, port = onvif_target(args.onvif)
        if not args.user:
            raise CameraCommandError("--onvif needs --user (and --password-env naming the variable with the password)")
        probe = await probe_onvif(host, port, args.user, password or "")
        uris = [with_credentials(p.stream_uri or "", args.user, password) for p in probe.h26x_profiles]
        roles = await probe_streams(uris)
        return roles, {"onvif": probe.as_dict()}, probe_lines(probe)
    for uri in args.rtsp:
        if urlsplit(uri).password is not None:
            # A password typed on the command line stays in the shell history and `ps`.
            raise CameraCommandError(
                "do not put the password in the --rtsp URI; give --user and --password-env VAR instead"
            )
    uris = [with_credentials(uri, args.user, password) if args.user else uri for uri in args.rtsp]
    return await probe_streams(uris), {}, []


def _role_lines(roles: StreamRoles) -> list[str]:
    lines = [f"record: {roles.record.masked_uri}", f"  {roles.record.describe()}"]
    if roles.detect:
        lines += [f"detect: {roles.detect.masked_uri}", f"  {roles.detect.describe()}"]
    else:
        lines.append("detect: no sub stream of 720 lines or fewer; Frigate detects on the record stream")
    return lines


def _role_json(roles: StreamRoles) -> dict[str, Any]:
    def one(stream: Any) -> dict[str, Any] | None:
        if stream is None:
            return None
        return {"uri": stream.masked_uri, "transport": stream.transport, "codec": stream.codec,
                "profile": stream.profile, "width": stream.width, "height": stream.height, "fps": stream.fps,
                "audio": stream.audio, "first_frame_s": stream.first_frame_s}
    return {"record": one(roles.record), "detect": one(roles.detect)}


async def _probe(args: argparse.Namespace) -> int:
    roles, document, lines = await _roles(args)
    _emit(args, lines + _role_lines(roles), document | {"streams": _role_json(roles)})
    return 0


# ---- add -------------------------------------------------------------------------------
async def _frigate_version(args: argparse.Namespace, config: GuaritaConfig,
                           session: aiohttp.ClientSession) -> FrigateVersion:
    if args.frigate_version and not args.apply:
        return FrigateVersion.parse(args.frigate_version)
    return await frigate_client(config, session).version()


async def _add(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.config, os.environ)
    config = load_config(path)
    if args.name in config.cameras:
        raise CameraCommandError(f"camera {args.name!r} is already in {path}; remove it there first to add it again")
    async with aiohttp.ClientSession() as session:
        version = await _frigate_version(args, config, session)
        if args.apply and version.release[:2] < CONFIG_SET_JSON_SINCE:
            raise CameraCommandError(f"Frigate {version} takes config changes over its API only as a query string; "
                                     "paste the printed YAML (run again without --apply) into its config editor")
        roles, document, lines = await _roles(args)
        lines += _role_lines(roles)
        new_text = add_camera_to_yaml(path, args.name, programs=args.programs, location=args.location,
                                      heading=args.heading)
        entry = build_frigate_camera(args.name, roles, version, restream=args.restream, retain_days=args.retain_days)
        message = await apply_frigate_camera(frigate_client(config, session), entry) if args.apply else None
    path.write_text(new_text, encoding="utf-8")
    lines += [f"guarita: camera {args.name} added to {path}", f"frigate {version} entry:", entry.yaml().rstrip()]
    if entry.password_env:
        lines.append(f"Frigate must have {entry.password_env} (the camera's password) in its environment")
    lines.append(f"frigate answered: {message}" if message is not None else
                 "not sent to Frigate (add --apply to send it with PUT /api/config/set)")
    _emit(args, lines, document | {
        "camera": args.name, "config_file": str(path), "streams": _role_json(roles),
        "frigate_version": str(version), "frigate_entry": entry.config_data(), "password_env": entry.password_env,
        "applied": message is not None, "frigate_message": message,
    })
    return 0


# ---- snapshot --------------------------------------------------------------------------
async def _snapshot(args: argparse.Namespace) -> int:
    config = cli_config(args)
    camera = config.cameras.get(args.name)
    if camera is None:
        raise CameraCommandError(f"unknown camera {args.name!r}; add it first with `guarita cameras add`")
    if args.onvif:
        host, port = onvif_target(args.onvif)
        image = await onvif_snapshot(host, port, args.user or "", read_password(args.password_env))
        source = f"ONVIF snapshot of {host}:{port}"
    else:
        async with aiohttp.ClientSession() as session:
            image = await frigate_client(config, session).latest_jpg(args.name)
        source = f"Frigate's latest.jpg of {args.name}"
    if args.masked:
        image = mask_jpeg(image, camera.privacy_masks)
    out = Path(args.output or f"{args.name}{'-masked' if args.masked else ''}.jpg").resolve()  # say where, in full
    try:  # a view of the client's premises: the owner's only, like every file of personal data (BH-07)
        with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
            file.write(image)
        out.chmod(0o600)  # an older snapshot of the same name keeps its mode through O_TRUNC
    except OSError as exc:
        raise CameraCommandError(f"cannot write the snapshot to {out}: {exc.strerror}") from exc
    state = (f"{len(camera.privacy_masks)} privacy mask(s) applied" if args.masked else
             "NOT masked: keep it inside the provider (use --masked for anything that leaves)")
    _emit(args, [f"saved {out} ({len(image)} bytes) from {source}; {state}"],
          {"camera": args.name, "file": str(out), "bytes": len(image), "masked": args.masked,
           "privacy_masks": len(camera.privacy_masks), "source": source})
    return 0


# ---- wiring ----------------------------------------------------------------------------
def _sync(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        return int(asyncio.run(command(args)))
    return run


def _credentials(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", metavar="U", help="camera user (ONVIF, and RTSP when the URI has none)")
    parser.add_argument("--password-env", metavar="VAR",
                        help="environment variable holding the camera's password (never typed on the command line)")


def _source(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--onvif", metavar="HOST[:PORT]", help="an ONVIF camera (port 80 when omitted)")
    which.add_argument("--rtsp", metavar="URI", action="append", help="an RTSP stream; repeat for the sub stream")
    _credentials(parser)


def add_cameras_commands(
    cameras: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser
) -> None:
    """Add discover/probe/add/snapshot to the existing ``guarita cameras`` group."""
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    found = cameras.add_parser("discover", parents=[json_flag], help="list the ONVIF cameras on this network")
    found.add_argument("--timeout", type=float, default=3.0, metavar="S", help="seconds to wait for answers (3)")
    found.add_argument("--source-address", metavar="ADDR", help="send the probe from this local IPv4 address")
    _credentials(found)
    found.set_defaults(func=_sync(_discover))
    probe = cameras.add_parser("probe", parents=[json_flag], help="read a camera's profiles and streams")
    _source(probe)
    probe.set_defaults(func=_sync(_probe))
    add = cameras.add_parser("add", parents=[common, json_flag], help="add a camera to Guarita and Frigate")
    add.add_argument("name", metavar="NAME", help="camera name (Frigate's: letters, digits, _ and -)")
    _source(add)
    add.add_argument("--programs", default="", metavar="cop_bh[,detro]", help="programs it belongs to (none)")
    add.add_argument("--location", metavar="LAT,LON", help="where it stands (required for cop_bh)")
    add.add_argument("--heading", type=float, metavar="DEG", help="compass heading it looks at (0 = north)")
    add.add_argument("--restream", action="store_true", help="send the streams through Frigate's go2rtc")
    add.add_argument("--retain-days", type=float, default=7, metavar="N", help="days of continuous recording (7)")
    add.add_argument("--frigate-version", metavar="X.Y", help="make the entry for this Frigate without asking it")
    add.add_argument("--apply", action="store_true", help="send the entry to Frigate (PUT /api/config/set)")
    add.set_defaults(func=_sync(_add))
    snap = cameras.add_parser("snapshot", parents=[common, json_flag], help="save a still of a camera")
    snap.add_argument("name", metavar="NAME", help="a camera of the config")
    snap.add_argument("-o", "--output", metavar="FILE", help="where to write it (NAME.jpg / NAME-masked.jpg)")
    snap.add_argument("--masked", action="store_true", help="blank the camera's privacy_masks (solid fill)")
    snap.add_argument("--onvif", metavar="HOST[:PORT]", help="from the camera's ONVIF snapshot URI, not Frigate")
    _credentials(snap)
    snap.set_defaults(func=_sync(_snapshot))
