"""The ``guarita`` command line.

``guarita run | check-config | demo``; every command takes ``-c FILE`` (or
``$GUARITA_CONFIG``; ``check-config FILE`` also works). Exit status: 0 success, 1 refused (bad config,
failed check; for ``run`` also a web port that cannot be bound, or a configuration error a service
met while running), 2 usage error. ``run`` otherwise ends only on SIGTERM or SIGINT (exit 0): a
service that fails is restarted (``guarita.supervisor``).

Covers: PB-01, PB-05, BH-07.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from guarita import __version__
from guarita.cli.cloud import add_cloud_commands
from guarita.cli.views import add_views_commands
from guarita.cli.web import add_web_commands
from guarita.cli.outbox import add_outbox_commands
from guarita.cli.events import add_events_commands
from guarita.cli.evidence import add_evidence_commands
from guarita.cli.fleet import add_fleet_commands
from guarita.cli.registry import add_registry_commands
from guarita.cli.reports import add_reports_commands
from guarita._config_rules import without_userinfo
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config, resolve_config_path
from guarita.errors import ConfigError, GuaritaError
from guarita.local_time import ZonedLogFormatter

__all__ = ["main"]

log = logging.getLogger(__name__)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _setup_logging(verbose: bool, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(ZonedLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def _load(args: argparse.Namespace) -> GuaritaConfig:
    return load_config(resolve_config_path(args.config, os.environ))


def summarize(config: GuaritaConfig, path: Path) -> str:
    """The short summary ``check-config`` prints for a valid file."""
    lines = [f"{path}: valid", f"provider: {config.provider.id} ({config.provider.name}, {config.provider.kind.value})"]
    for program, settings in config.programs.items():
        uplink = settings.uplink
        tls = "TLS" if uplink.tls is not None else "plain (loopback)"
        state = "enabled" if settings.enabled else "disabled"
        count = sum(1 for c in config.cameras.values() if program in c.programs)
        lines.append(
            f"program {program.value}: {state}, {uplink.host}:{uplink.port} {tls}, "
            f"topics {config.topic_root(program)}/{config.provider.id}/..., {count} cameras"
        )
        for field, basis in settings.forward.opt_ins().items():  # identifying fields: shown only when let out
            lines.append(f"  forwards {field} to {program.value} (opt-in); legal basis: {basis}")
    private = [name for name, c in config.cameras.items() if not c.programs]
    lines.append(f"cameras: {len(config.cameras)} ({len(private)} never leave: {', '.join(private) or 'none'})")
    lines.append(f"data_dir: {config.storage.data_dir}")
    return "\n".join(lines)


def _cmd_check_config(args: argparse.Namespace) -> int:
    if args.file and args.config and args.file != args.config:
        print(f"error: two config files given ({args.file} and -c {args.config}); give one", file=sys.stderr)
        return 2
    path = resolve_config_path(args.file or args.config, os.environ)
    config = load_config(path)
    print(summarize(config, path))
    if args.online:
        warnings = asyncio.run(_online_warnings(config))
        for warning in warnings:
            print(f"warning: {warning}")
        if not warnings:
            print(f"frigate at {without_userinfo(config.frigate.url)}: MQTT settings fit Guarita")
    return 0


async def _online_warnings(config: GuaritaConfig) -> list[str]:
    import aiohttp

    from guarita.frigate_check import check_frigate_mqtt

    async with aiohttp.ClientSession() as session:
        return await check_frigate_mqtt(config, session)


async def _run_until_signal(config: GuaritaConfig) -> None:
    from guarita.runtime import Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(config)
    await runtime.run(stop)


def _cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    asyncio.run(_run_until_signal(config))
    return 0


def _cmd_acl_mosquitto(args: argparse.Namespace) -> int:
    from guarita.acl import mosquitto_acl

    print(mosquitto_acl(_load(args)), end="")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from guarita.demo.run import run_demo

    return asyncio.run(run_demo(duration_s=args.duration, keep_dir=args.keep, discover_camera=not args.no_camera))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guarita", description="Frigate → COP-BH / DETRO bridge")
    parser.add_argument("--version", action="version", version=f"guarita {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-format", choices=["text", "json"], default=os.environ.get("GUARITA_LOG_FORMAT", "text")
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", help="config file (default: $GUARITA_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help="forward Frigate events until SIGTERM")
    run.set_defaults(func=_cmd_run)
    check = sub.add_parser("check-config", parents=[common], help="validate the config file")
    check.add_argument("file", nargs="?", help="config file (same as -c FILE)")
    check.add_argument("--online", action="store_true", help="also ask Frigate for its MQTT settings")
    check.set_defaults(func=_cmd_check_config)
    acl = sub.add_parser("acl", help="print access-control lists for the centres' brokers")
    acl_kind = acl.add_subparsers(dest="acl_kind", required=True)
    acl_mosquitto = acl_kind.add_parser("mosquitto", parents=[common], help="Mosquitto acl_file text")
    acl_mosquitto.set_defaults(func=_cmd_acl_mosquitto)
    demo = sub.add_parser("demo", help="run everything locally with sample cameras and two centres")
    demo.add_argument("--duration", type=float, default=30.0, help="seconds to run (default 30)")
    demo.add_argument("--keep", action="store_true", help="keep the demo's temporary directory")
    demo.add_argument("--no-camera", action="store_true",
                      help="skip discovering the virtual ONVIF camera (it needs root for a network namespace)")
    demo.set_defaults(func=_cmd_demo)
    add_registry_commands(sub, common)
    add_fleet_commands(sub, common)
    add_cloud_commands(sub, common)
    add_views_commands(sub, common)
    add_outbox_commands(sub, common)
    add_events_commands(sub, common)
    add_reports_commands(sub, common)
    add_evidence_commands(sub, common)
    add_web_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``guarita`` console script."""
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose, args.log_format)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except GuaritaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130



