"""``guarita run``: every service under one stop signal, each supervised.

Services: the Frigate-side subscriber, one publisher per enabled program, the health and
metrics server, the live views' watcher (``video_views``: one ``VideoHub`` over the same
``LiveRegistry`` the forwarder reads, handed to the web app), housekeeping, the Frigate
configuration check, with ``retention.cloud`` the cloud uploader and sweeper, and with a program's
``video_ingest`` its live view requests (``views_<program>``: views asked for over MQTT, pushed to the
centre's ingest). A link or Frigate being unreachable is logged and retried
by the service itself; anything else a service raises is caught by the
:class:`~guarita.supervisor.Supervisor`, which restarts it with backoff. Only a stop signal,
a configuration error, or a web port that cannot be bound at start ends the process.

Covers: PB-01, PB-05, PB-06, DT-02, DT-08, DT-21, BH-03, BH-11.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from guarita import audit
from guarita.adapters.dvr.arrival import DvrPoller
from guarita.adapters.dvr.sync import DvrSync
from guarita.audit_head import publish_audit_head
from guarita.web.api import make_api_app
from guarita.web.api_summary import LiveLink, LiveState
from guarita.bridge import EventBridge
from guarita.catalogue import Catalogue
from guarita.config import GuaritaConfig, MqttProtocol, ProgramName
from guarita.consent.registry import LiveRegistry, Registry
from guarita.consent.share_gate import RegistryView
from guarita.errors import GuaritaError, OutboxFullError, StoreError, StoreFullError
from guarita.frigate_check import run_frigate_checks
from guarita.frigate_subscriber import FrigateSubscriber
from guarita.link_state import Backoff, LinkState, wait_or_stop
from guarita.metrics import Metrics
from guarita.mqtt import LinkSettings, LinkTls, Will
from guarita.outbox import Outbox, QuotaLevel
from guarita.plugins import plugins_for
from guarita.quarantine import Quarantine
from guarita.retention.archive_sweep import sweep_archive
from guarita.retention.cloud_service import CloudService
from guarita.retention.frigate_retention import run_retention_checks
from guarita.retention.hold_followup import run_hold_exports
from guarita.retention.holds import HoldBook
from guarita.retention.policy import archive_hold_check
from guarita.store import Store
from guarita.supervisor import Redactor, Service, Supervisor, secret_values
from guarita.telemetry import TelemetryIngest, TelemetrySubscriber, telemetry_link_settings
from guarita.uplink import UplinkPublisher
from guarita.video import VideoHub
from guarita.video.mqtt_requests import ViewRequests
from guarita.web.console.fleet_sync import API_DVR_POLLER
from guarita.web.server import listen_web, make_web_app

__all__ = ["Runtime", "frigate_link_settings", "sweep_archive_with_holds", "uplink_link_settings", "utc_now",
           "views_link_settings"]

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 60.0
REGISTRY_POLL_S = 0.25  # a registry change made by the CLI takes effect within this
EVENT_STATE_KEEP_S = 24 * 3600.0
ARCHIVE_SWEEP_S = 3600.0


def utc_now() -> datetime:
    """The wall clock, aware, in UTC."""
    return datetime.now(UTC)


def _tls(section: Any) -> LinkTls | None:
    if section is None:
        return None
    return LinkTls(section.ca_file, section.cert_file, section.key_file)


def frigate_link_settings(config: GuaritaConfig) -> LinkSettings:
    """The persistent, manually acknowledged session on Frigate's broker."""
    mqtt = config.frigate.mqtt
    password = mqtt.password.get_secret_value() if mqtt.password else None
    return LinkSettings(
        host=mqtt.host,
        port=mqtt.port,
        client_id=config.frigate_client_id(),
        username=mqtt.username,
        password=password,
        tls=_tls(mqtt.tls),
        mqtt5=mqtt.protocol is MqttProtocol.V5,
        clean_start=False,
        session_expiry_s=mqtt.session_expiry_s,
        receive_maximum=mqtt.receive_maximum,
    )


def status_topic(config: GuaritaConfig, program: ProgramName) -> str:
    """``<root>/<provider>/status`` of a program."""
    return f"{config.topic_root(program)}/{config.provider.id}/status"


def uplink_link_settings(config: GuaritaConfig, program: ProgramName) -> LinkSettings:
    """A program's uplink: TLS, credentials, Last Will ``offline``."""
    uplink = config.programs[program].uplink
    password = uplink.password.get_secret_value() if uplink.password else None
    return LinkSettings(
        host=uplink.host,
        port=uplink.port,
        client_id=config.uplink_client_id(program),
        username=uplink.username,
        password=password,
        tls=_tls(uplink.tls),
        mqtt5=uplink.protocol is MqttProtocol.V5,
        keepalive_s=uplink.keepalive_s,
        clean_start=True,
        will=Will(status_topic(config, program), b"offline"),
        max_inflight=uplink.inflight,
    )


def views_link_settings(config: GuaritaConfig, program: ProgramName) -> LinkSettings:
    """The connection live view requests come in on: the uplink's broker and credentials, no Last Will."""
    uplink = uplink_link_settings(config, program)
    return dataclasses.replace(uplink, client_id=f"{uplink.client_id}-views", will=None)


def sweep_archive_with_holds(data_dir: Path, now: datetime, archive_days: int) -> None:
    """One archive sweep on a connection of its own (blocking: for a worker thread).

    Footage under a legal hold stays whatever its age (PB-04, DT-06).
    """
    store = Store.open(data_dir)
    try:
        sweep_archive(
            store, data_dir, now=now, archive_days=archive_days, is_held=archive_hold_check(HoldBook.load(store.db))
        )
    finally:
        store.close()


class Runtime:
    """Everything ``guarita run`` starts; built from a loaded config."""

    def __init__(
        self,
        config: GuaritaConfig,
        *,
        registry: RegistryView | None = None,
        clock: Callable[[], datetime] = utc_now,
        reconnect_max_s: float = 30.0,
        check_frigate: bool = True,
        restart_max_s: float = 60.0,
        settle_s: float = 60.0,
    ) -> None:
        self.config = config
        self._check_frigate = check_frigate
        self.metrics = Metrics()
        self.supervisor = Supervisor(
            self.metrics, restart_max_s=restart_max_s, settle_s=settle_s, redact=Redactor(secret_values(config))
        )
        self.store = Store.open(config.storage.data_dir)
        self.outbox = Outbox.for_config(self.store, config.outbox, lambda: clock().timestamp())
        self.outbox.on_dead_letter = lambda uplink, kind: self.metrics.dead_lettered.inc(uplink, kind)
        self.metrics.dead_letters.source = lambda: {(): float(self.outbox.dead_letter_count())}
        self.quarantine = Quarantine.for_config(self.metrics, config.storage)
        self.metrics.quarantine_rows.source = lambda: {(): float(Quarantine.rows(self.store.db))}
        self.metrics.quarantine_pruned.source = lambda: {(): float(Quarantine.pruned(self.store.db))}
        self.registry = Registry(
            self.store, config.storage.data_dir, accredited=config.provider.accreditation is not None, clock=clock
        )
        self.live_registry = LiveRegistry(self.registry) if registry is None else None
        view: RegistryView = registry or self.live_registry  # type: ignore[assignment]
        self.registry_view = view  # what the share gate reads, for the bridge and the catalogue
        if self.live_registry is not None:
            self.live_registry.refresh()
        self.catalogue = Catalogue(config, view, self.store, self.outbox, clock)
        # The live views read the gate through the same view of the registry (BH-03, BH-11).
        self.video = VideoHub(config, self.registry, self.store, clock, live=view)
        self._clock = clock
        self.bridge = EventBridge(
            config,
            self.store,
            self.outbox,
            self.quarantine,
            view,
            plugins_for(config),
            self.metrics,
            clock,
        )
        self.warnings: list[str] = []
        self.retention_warnings: list[str] = []  # cop_bh cameras Frigate keeps too briefly (daily check)
        self.metrics.retention_shortfall.source = lambda: {(): float(len(self.retention_warnings))}
        self.frigate = FrigateSubscriber(
            frigate_link_settings(config),
            self.bridge,
            self.outbox,
            LinkState("frigate", self.metrics),
            Backoff(max_s=reconnect_max_s),
        )
        self.uplinks = [
            UplinkPublisher(
                program.value,
                uplink_link_settings(config, program),
                status_topic(config, program),
                self.outbox,
                self.metrics,
                LinkState(f"uplink {program.value}", self.metrics),
                Backoff(max_s=reconnect_max_s),
                clock=lambda: clock().timestamp(),
                poison_after=config.outbox.dead_letter_after_disconnects,
            )
            for program, settings in config.programs.items()
            if settings.enabled
        ]
        self.view_requests = [  # live views asked for over MQTT, pushed to the centre's ingest
            ViewRequests(config, program, views_link_settings(config, program), lambda: self.video, self.metrics,
                         LinkState(f"views {program.value}", self.metrics), Backoff(max_s=reconnect_max_s),
                         registry=self.registry, store=self.store, clock=clock)
            for program, settings in config.programs.items()
            if settings.enabled and settings.video_ingest is not None
        ]
        self.metrics.outbox_depth.source = lambda: {(u.name,): float(self.outbox.depth(u.name)) for u in self.uplinks}
        self.metrics.outbox_bytes.source = lambda: {(): float(self.outbox.pending_bytes)}
        self.metrics.outbox_quota_ratio.source = self._quota_ratio
        self.web_port: asyncio.Future[int] | None = None
        self.dvr_poller: DvrPoller | None = None
        self.telemetry_ingest: TelemetryIngest | None = None
        self.telemetry: TelemetrySubscriber | None = None
        if config.fleet is not None:
            self.telemetry_ingest = TelemetryIngest(config, self.store, self.outbox, self.quarantine, clock)
            self.telemetry = TelemetrySubscriber(
                telemetry_link_settings(config, frigate_link_settings(config)),
                self.telemetry_ingest,
                self.outbox,
                LinkState("telemetry", self.metrics),
                Backoff(max_s=reconnect_max_s),
                max_payload_bytes=config.forward.max_payload_bytes,
            )
            dvr_sync = DvrSync.for_config(
                config, self.store, self.outbox, clock=clock, telemetry=self.telemetry_ingest.ingest_file
            )
            self.dvr_poller = DvrPoller(dvr_sync, config.fleet)
        cloud = config.retention.cloud
        self.cloud = CloudService(config, cloud, self.store, clock) if cloud is not None else None

    def _quota_ratio(self) -> dict[tuple[str, ...], float]:
        ratio = self.outbox.pending_bytes / self.outbox.quota_bytes
        # While the outbox refuses messages it is full, whatever the bytes say.
        return {(): max(ratio, 1.0) if self.outbox.level is QuotaLevel.FULL else ratio}

    def health(self) -> dict[str, Any]:
        """The /healthz report."""
        links = {"frigate": {"up": self.frigate.state.up, "detail": self.frigate.state.detail}}
        for uplink in self.uplinks:
            links[f"uplink:{uplink.name}"] = {"up": uplink.state.up, "detail": uplink.state.detail}
        if self.telemetry is not None:
            links["telemetry"] = {"up": self.telemetry.state.up, "detail": self.telemetry.state.detail}
        for requests in self.view_requests:
            links[f"views:{requests.program.value}"] = {"up": requests.state.up, "detail": requests.state.detail}
        degraded = (
            not all(link["up"] for link in links.values())
            or self.outbox.level is not QuotaLevel.OK
            or self.supervisor.degraded
        )
        own = [self.store.full] if self.store.full is not None else []
        dead_letters = self.outbox.dead_letter_count()
        if dead_letters:
            own.append(
                f"{dead_letters} outbox message(s) set aside as dead letters (refused by a broker or too large); "
                "see `guarita outbox dead-letters`"
            )
        crowded = self.quarantine.warning(self.store.db)
        if crowded is not None:
            own.append(crowded)
        warnings = [*own, *self.warnings, *self.retention_warnings]
        # Failing: Guarita itself can keep no new event (a full disk, a full outbox); they wait
        # on Frigate's broker. Everything else is degraded: events are kept and will go.
        failing = self.store.full is not None or self.outbox.level is QuotaLevel.FULL
        return {
            "status": "failing" if failing else "degraded" if degraded or warnings else "ok",
            "provider": self.config.provider.id,
            "links": links,
            "frigate_available": self.bridge.frigate_available,
            "outbox": {
                "depth": {u.name: self.outbox.depth(u.name) for u in self.uplinks},
                "bytes": self.outbox.pending_bytes,
                "quota_bytes": self.outbox.quota_bytes,
                "level": self.outbox.level.value,
                "dead_letters": dead_letters,
            },
            "quarantined": int(sum(self.metrics.quarantined.values.values())),
            "quarantine": {
                "rows": Quarantine.rows(self.store.db),
                "max_rows": self.quarantine.max_rows,
                "pruned": Quarantine.pruned(self.store.db),
            },
            "dvr_present": dict(self.dvr_poller.present) if self.dvr_poller is not None else {},
            "store": {"path": str(self.store.path), "writable": self.store.full is None},
            "warnings": warnings,
            "services": self.supervisor.report(),
        }

    def live_state(self) -> LiveState:
        """Link states and deliveries since start, for the API's ``GET /summary``."""
        links = {"frigate": LiveLink(self.frigate.state.up, self.frigate.state.detail)}
        for uplink in self.uplinks:
            links[f"uplink:{uplink.name}"] = LiveLink(uplink.state.up, uplink.state.detail)
        if self.telemetry is not None:
            links["telemetry"] = LiveLink(self.telemetry.state.up, self.telemetry.state.detail)
        for requests in self.view_requests:
            links[f"views:{requests.program.value}"] = LiveLink(requests.state.up, requests.state.detail)
        delivered = {labels[0]: int(count) for labels, count in self.metrics.delivered.values.items()}
        return LiveState(links=links, delivered=delivered)

    async def _watch_registry(self, stop: asyncio.Event) -> None:
        """Apply registry changes (and consent expiries) to the gate and the catalogue."""
        failing = False
        while not stop.is_set():
            if self.live_registry is not None:
                self.live_registry.refresh()
            try:
                self.catalogue.sync()
                failing = False
            except (OutboxFullError, StoreError) as exc:
                if not failing:
                    log.error("catalogue update held back: %s; retrying", exc)
                failing = True
            await wait_or_stop(stop, REGISTRY_POLL_S)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        next_sweep = 0.0
        while not stop.is_set():
            await wait_or_stop(stop, HOUSEKEEPING_S)
            try:
                pruned = self.outbox.prune_delivered()
                self.outbox.reload_counts()  # the CLI may have requeued or discarded dead letters
                self.bridge.prune_state(EVENT_STATE_KEEP_S)
                log.debug("housekeeping: forgot %d delivered outbox rows", pruned)
            except StoreError as exc:  # a full disk: the store logged it; try again next round
                log.debug("housekeeping skipped: %s", exc)
            fleet = self.config.fleet
            if fleet is not None and time.monotonic() >= next_sweep and not stop.is_set():
                # The DVR archive and the positions (DT-12, DT-21) never outgrow fleet.archive_days.
                # Thousands of unlinks would stall the loop: a worker thread with its own connection.
                try:
                    await asyncio.to_thread(
                        sweep_archive_with_holds, self.config.storage.data_dir, self._clock(), fleet.archive_days
                    )
                except (GuaritaError, OSError) as exc:
                    log.error("archive sweep failed: %s; trying again in an hour", exc)
                next_sweep = time.monotonic() + ARCHIVE_SWEEP_S

    def services(self) -> list[Service]:
        """Every long-running service of this configuration, named as ``/healthz`` shows them."""
        services = [
            Service("registry", self._watch_registry),
            Service("frigate_subscriber", self.frigate.run),
            *(Service(f"uplink_{uplink.name}", uplink.run) for uplink in self.uplinks),
            Service("web", self._serve_web),
            Service("video_views", self.video.watch),  # ends views past expiry or unshared, within a second
            *(Service(f"views_{requests.program.value}", requests.run) for requests in self.view_requests),
            Service("housekeeping", self._housekeeping),
            Service("audit_head", lambda stop: publish_audit_head(self.store, stop)),  # the head goes off-box via the log
        ]
        if self.dvr_poller is not None:
            services.append(Service("dvr_poller", self.dvr_poller.run))
        if self.telemetry is not None:
            services.append(Service("telemetry", self.telemetry.run))
        if self.cloud is not None:
            services += [Service("cloud_upload", self.cloud.run_uploads), Service("cloud_sweep", self.cloud.run_sweeps)]
        if self._check_frigate:
            config = self.config
            services += [
                Service("frigate_check", lambda stop: run_frigate_checks(config, self.warnings, stop)),
                Service("retention_check", lambda stop: run_retention_checks(config, self.retention_warnings, stop)),
                Service(
                    "hold_exports",
                    lambda stop: run_hold_exports(config, self.store, self.metrics, stop,
                                                  now=lambda: self._clock().timestamp()),
                ),
            ]
        return services

    async def _serve_web(self, stop: asyncio.Event) -> None:
        """The web server, bound before any service started, answers until ``stop``."""
        await stop.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Bind the web port, run every service until ``stop`` is set, then close the store.

        Raises:
            ListenError: the web port cannot be bound (nothing else was started).
            ConfigError, SecretError: a service found the configuration unusable.
        """
        loop = asyncio.get_running_loop()
        self.web_port = loop.create_future()
        web = self.config.web
        runner = None
        try:
            api = make_api_app(self.config, self.registry, self.store, self._clock, self.outbox, self.live_state,
                               video=self.video)
            if self.dvr_poller is not None:
                api[API_DVR_POLLER] = self.dvr_poller  # the console's "sync now" (docs/console.md)
            tls = web.tls.server_context() if web.tls is not None else None
            runner, port = await listen_web(make_web_app(self.health, self.metrics, api), web.host, web.port,
                                            ssl_context=tls)
            self.web_port.set_result(port)
            log.info(
                "guarita running for %s: %d cameras, uplinks: %s",
                self.config.provider.id,
                len(self.config.cameras),
                ", ".join(u.name for u in self.uplinks) or "none",
            )
            try:
                with self.store.transaction() as db:
                    audit.append(
                        db,
                        at=self._clock().timestamp(),
                        actor="guarita",
                        action="config.load",
                        subject=self.config.provider.id,
                        details={
                            "cameras": sorted(self.config.cameras),
                            "programs": sorted(p.value for p in self.config.programs),
                            "accredited": self.config.provider.accreditation is not None,
                            # Identifying fields let out, by program, with the legal basis the file gives (BH-07).
                            "forward_opt_ins": {
                                p.value: settings.forward.opt_ins() for p, settings in sorted(self.config.programs.items())
                            },
                        },
                    )
            except StoreFullError as exc:
                # Start degraded rather than not at all: Frigate's broker keeps the events meanwhile.
                log.error("starting on a full disk, the config.load audit entry is not recorded: %s", exc)
            await self.supervisor.run(self.services(), stop)
        finally:
            if runner is not None:
                await runner.cleanup()
            self.store.close()
            if runner is not None:
                log.info("guarita stopped; outbox kept %d undelivered messages",
                         sum(self.outbox.depth(u.name) for u in self.uplinks))
