"""Checks on the configuration that span several fields.

Each ``verify_*`` function inspects an already-typed config and yields one ``RuleViolation``
per problem (path and message); it does no I/O. The loader turns each violation into a
``file:line:col key.path: message`` line.

Covers: PB-05, BH-07, DT-02, DT-07, DT-14.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from urllib.parse import urlsplit

from guarita.config import CameraRole, GuaritaConfig, ProgramName, _SecretHolder

__all__ = ["RULES", "RuleViolation", "is_loopback_host", "secret_holders", "without_userinfo"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class RuleViolation:
    """A cross-field problem at ``path`` in the file."""

    path: Path
    message: str


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` part replaced by ``***@``, safe to print (BH-07)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, tail = rest.partition("/")
    if "@" not in authority:
        return url
    host = authority.rpartition("@")[2]
    return f"{scheme}{sep}***@{host}{slash}{tail}"


def verify_no_credentials_in_urls(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """No URL or host in the file carries a user or password: they would be printed and logged.

    A password goes in ``password_file``/``password_env``; a user in ``username``. DVR sources
    are checked by ``verify_fleet`` (an ``ftp://user@host`` user is allowed there).
    """
    urls: list[tuple[Path, str, str]] = [(("frigate", "url"), config.frigate.url, "username and password_file/_env")]
    if config.retention.cloud is not None:
        urls.append((("retention", "cloud", "endpoint"), config.retention.cloud.endpoint, "access_key_*/secret_key_*"))
    for path, url, instead in urls:
        if without_userinfo(url) != url:
            yield RuleViolation(
                path, f"credentials must not be in the URL ({without_userinfo(url)}); use {instead} instead"
            )
    hosts: list[tuple[Path, str]] = [(("frigate", "mqtt", "host"), config.frigate.mqtt.host)]
    hosts += [(("programs", n.value, "uplink", "host"), p.uplink.host) for n, p in config.programs.items()]
    for path, host in hosts:
        if "@" in host or "://" in host:
            yield RuleViolation(
                path, f"give a bare host name or address here, not a URL or user@host ({without_userinfo(host)}); "
                "the user goes in `username`, the password in password_file/password_env",
            )


def verify_uplinks_use_tls(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """An uplink leaves the machine, so it must use TLS unless its host is loopback."""
    for name, program in config.programs.items():
        if program.uplink.tls is None and not is_loopback_host(program.uplink.host):
            yield RuleViolation(
                ("programs", name.value, "uplink"),
                f"uplink to {without_userinfo(program.uplink.host)} has no `tls` section; TLS is required for any "
                "host that is not a loopback address (add `tls: {ca_file: ...}`)",
            )


def verify_ingests_are_encrypted(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """Video pushed to a centre's ingest leaves the machine: `rtsps://`, or `srt://` with a passphrase, unless loopback."""
    for name, program in config.programs.items():
        ingest = program.video_ingest
        if ingest is None:
            continue
        path: Path = ("programs", name.value, "video_ingest")
        if ingest.passphrase_file is not None and ingest.passphrase_env is not None:
            yield RuleViolation((*path, "passphrase_env"), "give either passphrase_file or passphrase_env, not both")
        parts = urlsplit(ingest.url)
        if is_loopback_host(parts.hostname or ""):
            continue
        shown = without_userinfo(ingest.url)
        if parts.scheme == "rtsp":
            yield RuleViolation(
                (*path, "url"),
                f"ingest {shown} is not encrypted; use rtsps:// (or srt:// with passphrase_file) for any host "
                "that is not a loopback address",
            )
        elif parts.scheme == "srt" and ingest.passphrase_file is None and ingest.passphrase_env is None:
            yield RuleViolation(
                (*path, "url"),
                f"ingest {shown} is not encrypted; an srt:// ingest needs the SRT passphrase in passphrase_file "
                "or passphrase_env for any host that is not a loopback address",
            )


def secret_holders(config: GuaritaConfig) -> Iterator[tuple[Path, _SecretHolder]]:
    """Every section that may carry a password, with its path in the file."""
    yield ("frigate",), config.frigate
    yield ("frigate", "mqtt"), config.frigate.mqtt
    for name, program in config.programs.items():
        yield ("programs", name.value, "uplink"), program.uplink
        if program.video_ingest is not None:
            yield ("programs", name.value, "video_ingest"), program.video_ingest
    if config.fleet is not None:
        for vehicle, settings in config.fleet.vehicles.items():
            if settings.dvr is not None:
                yield ("fleet", "vehicles", vehicle, "dvr"), settings.dvr
                for number in settings.dvr.cameras:
                    live = settings.dvr.live(number)
                    if live is not None:
                        yield ("fleet", "vehicles", vehicle, "dvr", "cameras", str(number), "live"), live
    for camera, camera_settings in config.cameras.items():
        if camera_settings.video is not None:
            yield ("cameras", camera, "video"), camera_settings.video


def verify_one_secret_source(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """A password comes from `password_file` or `password_env`, not both."""
    for path, holder in secret_holders(config):
        if holder.password_file is not None and holder.password_env is not None:
            yield RuleViolation((*path, "password_env"), "give either password_file or password_env, not both")


def verify_client_cert_pairs(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """A client certificate needs its key, and a key its certificate."""
    tls_sections: list[tuple[Path, object]] = [(("frigate", "mqtt", "tls"), config.frigate.mqtt.tls)]
    tls_sections += [(("programs", n.value, "uplink", "tls"), p.uplink.tls) for n, p in config.programs.items()]
    for path, tls in tls_sections:
        cert = getattr(tls, "cert_file", None)
        key = getattr(tls, "key_file", None)
        if (cert is None) != (key is None):
            missing = "key_file" if key is None else "cert_file"
            yield RuleViolation(path, f"cert_file and key_file go together; {missing} is missing")


def verify_camera_programs(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """Each camera's programs are configured, and carry what the program needs."""
    for camera, settings in config.cameras.items():
        for index, program in enumerate(settings.programs):
            if program not in config.programs:
                yield RuleViolation(
                    ("cameras", camera, "programs", index),
                    f"program {program.value!r} is not configured under `programs`",
                )
        if len(set(settings.programs)) != len(settings.programs):
            yield RuleViolation(("cameras", camera, "programs"), "a program is listed twice")
        if ProgramName.COP_BH in settings.programs and settings.location is None:
            yield RuleViolation(
                ("cameras", camera),
                "a cop_bh camera needs `location: {lat: ..., lon: ...}` so COP-BH knows where it looks",
            )
        if ProgramName.DETRO in settings.programs and settings.vehicle is None:
            yield RuleViolation(("cameras", camera), "a detro camera needs `vehicle:` (the vehicle order number)")


def verify_agencies_only_for_cop_bh(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """Agencies are COP-BH's partner institutions; DETRO has none."""
    for name, program in config.programs.items():
        if name is not ProgramName.COP_BH and program.agencies:
            yield RuleViolation(("programs", name.value, "agencies"), "only cop_bh has agencies")


def verify_token_agencies(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """A token (or console user) bound to an agency names one of cop_bh's agencies."""
    program = config.programs.get(ProgramName.COP_BH)
    known = set(program.agencies) if program is not None else set()
    bound = [("tokens", name, token.agency) for name, token in config.web.tokens.items()]
    bound += [("users", name, user.agency) for name, user in config.web.users.items()]
    for kind, name, agency in bound:
        if agency is not None and agency not in known:
            listed = ", ".join(sorted(known)) or "none"
            yield RuleViolation(
                ("web", kind, name, "agency"),
                f"agency {agency!r} is not under `programs.cop_bh.agencies` (configured: {listed})",
            )


def verify_token_program(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """A token bound to an agency is a cop_bh platform's token, never DETRO's."""
    for name, token in config.web.tokens.items():
        if token.agency is not None and token.program is ProgramName.DETRO:
            yield RuleViolation(
                ("web", "tokens", name, "program"),
                "a token bound to a cop_bh agency cannot be a detro token; drop `agency` or set `program: cop_bh`",
            )


def verify_console_names(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """A console user's name is not also a token's: the audit log names who acted by it."""
    for name in sorted(set(config.web.users) & set(config.web.tokens)):
        yield RuleViolation(
            ("web", "users", name),
            f"{name!r} is also a name under `web.tokens`: give the user or the token another name, so the "
            "audit log tells them apart",
        )


DVR_SCHEMES = ("http", "https", "ftp", "file")


def verify_fleet(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """Each DVR has the cameras DT-07 asks for, a serial of its own (DT-14) and a source we can read."""
    if config.fleet is None:
        return
    serials: dict[str, str] = {}
    for vehicle, settings in config.fleet.vehicles.items():
        dvr = settings.dvr
        if dvr is None:
            continue
        path = ("fleet", "vehicles", vehicle, "dvr")
        roles = set(dvr.roles().values())
        if len(dvr.cameras) < 2 or not {CameraRole.INTERIOR, CameraRole.FRONT} <= roles:
            yield RuleViolation(
                (*path, "cameras"),
                "a bus DVR needs at least two cameras, one `interior` and one `front` (Portaria 958/2009, DT-07); "
                f"got {', '.join(f'{n}: {r.value}' for n, r in sorted(dvr.roles().items())) or 'none'}",
            )
        for key, numbers in (("folders", dvr.folders), ("privacy_masks", dvr.privacy_masks)):
            for number in numbers:
                if number not in dvr.cameras:
                    yield RuleViolation((*path, key, number), f"camera {number} is not listed under `cameras`")
        if dvr.serial in serials:
            yield RuleViolation(
                (*path, "serial"), f"DVR serial {dvr.serial} is already bound to vehicle {serials[dvr.serial]} (DT-14)"
            )
        else:
            serials[dvr.serial] = vehicle
        yield from _verify_dvr_source((*path, "source"), dvr.source)


def _verify_dvr_source(path: Path, source: str) -> Iterator[RuleViolation]:
    parts = urlsplit(source)
    if parts.scheme not in DVR_SCHEMES:
        yield RuleViolation(
            path,
            f"unknown DVR source {without_userinfo(source)!r}: use http://, https://, ftp:// or file:// (a mounted folder)",
        )
        return
    if parts.password is not None:
        yield RuleViolation(path, "the DVR password must not be in the URL; use password_file or password_env")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            yield RuleViolation(path, "a file:// source needs an absolute local path, e.g. file:///mnt/sd")
    elif not parts.hostname:
        yield RuleViolation(path, f"DVR source {without_userinfo(source)!r} has no host")


def verify_cloud(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """The cloud copy has an http(s) endpoint, TLS unless loopback, and each key from exactly one source."""
    cloud = config.retention.cloud
    if cloud is None:
        return
    path: Path = ("retention", "cloud")
    parts = urlsplit(cloud.endpoint)
    shown = without_userinfo(cloud.endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield RuleViolation((*path, "endpoint"), f"endpoint {shown!r} must be an http(s) URL with a host")
    elif parts.scheme == "http" and not is_loopback_host(parts.hostname):
        yield RuleViolation(
            (*path, "endpoint"),
            f"endpoint {shown} is not TLS; use https:// for any host that is not a loopback address",
        )
    for key in ("access_key", "secret_key"):
        sources = [getattr(cloud, f"{key}_env"), getattr(cloud, f"{key}_file")]
        if None not in sources:
            yield RuleViolation((*path, f"{key}_env"), f"give either {key}_env or {key}_file, not both")
        elif sources == [None, None]:
            yield RuleViolation(path, f"the cloud copy needs {key}_env or {key}_file")


def verify_detro_vehicles_in_fleet(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """With a fleet configured, a bus camera's vehicle is one of the fleet's."""
    if config.fleet is None or not config.fleet.vehicles:
        return
    for camera, settings in config.cameras.items():
        if settings.vehicle is not None and settings.vehicle not in config.fleet.vehicles:
            yield RuleViolation(
                ("cameras", camera, "vehicle"), f"vehicle {settings.vehicle!r} is not listed under fleet.vehicles"
            )


def verify_opt_ins_name_a_legal_basis(config: GuaritaConfig) -> Iterator[RuleViolation]:
    """A recognised name or plate leaves only when the file says on what legal ground (BH-07)."""
    for name, program in config.programs.items():
        for field, opt_in in (("sub_label", program.forward.sub_label), ("license_plate", program.forward.license_plate)):
            if opt_in.enabled and not (opt_in.legal_basis or "").strip():
                yield RuleViolation(
                    ("programs", name.value, "forward", field, "legal_basis"),
                    f"forwarding {field} to {name.value} identifies people; give the legal basis it rests on in "
                    f"`legal_basis` (e.g. the LGPD article and the agreement), or set `enabled: false`",
                )


RULES: tuple[Callable[[GuaritaConfig], Iterator[RuleViolation]], ...] = (
    verify_no_credentials_in_urls,
    verify_uplinks_use_tls,
    verify_ingests_are_encrypted,
    verify_one_secret_source,
    verify_client_cert_pairs,
    verify_camera_programs,
    verify_agencies_only_for_cop_bh,
    verify_token_agencies,
    verify_token_program,
    verify_console_names,
    verify_fleet,
    verify_detro_vehicles_in_fleet,
    verify_cloud,
    verify_opt_ins_name_a_legal_basis,
)
