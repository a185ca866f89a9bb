"""Prometheus metrics, rendered in the text exposition format for ``/metrics``.

A small, dependency-free registry: counters, gauges (set, or read from a callback at
scrape time) and histograms, each with fixed label names.

Covers: PB-05.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Counter", "Gauge", "Histogram", "Metrics"]

Labels = tuple[str, ...]


def _label_text(names: Sequence[str], values: Labels, extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help(name: str, text: str, kind: str) -> list[str]:
    """# HELP and # TYPE lines; HELP text escapes backslash and line feed (not quotes)."""
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n")
    return [f"# HELP {name} {escaped}", f"# TYPE {name} {kind}"]


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Counter:
    """A monotonically increasing count."""

    name: str
    help: str
    labelnames: tuple[str, ...] = ()
    values: dict[Labels, float] = field(default_factory=dict)
    source: Callable[[], dict[Labels, float]] | None = None  # a count kept elsewhere (the store), read at scrape

    def inc(self, *labels: str, by: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + by

    def get(self, *labels: str) -> float:
        return self.values.get(labels, 0)

    def render(self) -> list[str]:
        current = self.source() if self.source is not None else self.values
        lines = _help(self.name, self.help, "counter")
        lines += [f"{self.name}{_label_text(self.labelnames, k)} {_number(v)}" for k, v in sorted(current.items())]
        return lines


@dataclass
class Gauge:
    """A value that goes up and down; ``source`` is read at scrape time when given."""

    name: str
    help: str
    labelnames: tuple[str, ...] = ()
    values: dict[Labels, float] = field(default_factory=dict)
    source: Callable[[], dict[Labels, float]] | None = None

    def set(self, value: float, *labels: str) -> None:
        self.values[labels] = value

    def render(self) -> list[str]:
        current = self.source() if self.source is not None else self.values
        lines = _help(self.name, self.help, "gauge")
        lines += [f"{self.name}{_label_text(self.labelnames, k)} {_number(v)}" for k, v in sorted(current.items())]
        return lines


@dataclass
class Histogram:
    """Observations counted into cumulative buckets."""

    name: str
    help: str
    buckets: tuple[float, ...]
    labelnames: tuple[str, ...] = ()
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=dict)

    def observe(self, value: float, *labels: str) -> None:
        counts = self.counts.setdefault(labels, [0] * (len(self.buckets) + 1))
        counts[bisect_left(self.buckets, value)] += 1
        self.sums[labels] = self.sums.get(labels, 0.0) + value

    def render(self) -> list[str]:
        lines = _help(self.name, self.help, "histogram")
        for labels, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = f'le="{_number(bound)}"'
                lines.append(f"{self.name}_bucket{_label_text(self.labelnames, labels, le)} {running}")
            lines.append(f"{self.name}_sum{_label_text(self.labelnames, labels)} {_number(self.sums[labels])}")
            lines.append(f"{self.name}_count{_label_text(self.labelnames, labels)} {running}")
        return lines


class Metrics:
    """Every metric Guarita exposes."""

    def __init__(self) -> None:
        self.received = Counter("guarita_events_received_total", "Frigate MQTT messages received.", ("topic",))
        self.forwarded = Counter(
            "guarita_events_forwarded_total", "Event messages queued for a program's uplink.", ("program",)
        )
        self.blocked = Counter(
            "guarita_events_blocked_total", "Event messages the share gate held back.", ("program", "reason")
        )
        self.skipped = Counter(
            "guarita_events_skipped_total",
            "Event messages not forwarded: unknown camera, camera in no program, throttled update, duplicate.",
            ("reason",),
        )
        self.quarantined = Counter(
            "guarita_events_quarantined_total", "Malformed Frigate messages quarantined.", ("kind",)
        )
        self.quarantine_rows = Gauge(
            "guarita_quarantine_rows", "Entries in the quarantine table (alarm near storage.quarantine_max_rows)."
        )
        self.quarantine_pruned = Counter(
            "guarita_quarantine_pruned_total", "Oldest quarantine entries pruned to keep storage.quarantine_max_rows."
        )
        self.delivered = Counter("guarita_messages_delivered_total", "Messages acknowledged by an uplink.", ("uplink",))
        self.refused = Counter(
            "guarita_messages_refused_total",
            "Publishes an uplink's broker refused with a PUBACK reason code (each is set aside as a dead letter).",
            ("uplink",),
        )
        self.dead_lettered = Counter(
            "guarita_messages_dead_lettered_total",
            "Outbox messages set aside as dead letters: refused, too_large, or poison (the link drops on it).",
            ("uplink", "kind"),
        )
        self.dead_letters = Gauge(
            "guarita_dead_letters", "Dead letters waiting for a technician (guarita outbox dead-letters; alarm > 0)."
        )
        self.outbox_depth = Gauge("guarita_outbox_depth", "Undelivered messages per uplink.", ("uplink",))
        self.outbox_bytes = Gauge("guarita_outbox_bytes", "Bytes the outbox counts against its quota.")
        self.outbox_quota_ratio = Gauge("guarita_outbox_quota_ratio", "Share of the outbox quota in use (alarm ≥ warn).")
        self.link_up = Gauge("guarita_link_up", "1 when an MQTT link is connected.", ("link",))
        self.retention_shortfall = Gauge(
            "guarita_frigate_retention_shortfall",
            "Shared cameras whose footage Frigate keeps less than the policy (daily check; alarm > 0).",
        )
        self.hold_exports_failed = Gauge(
            "guarita_hold_exports_failed",
            "Active legal holds whose Frigate export failed after every retry (alarm > 0).",
        )
        self.video_viewers = Gauge(
            "guarita_video_viewers", "Live view streams being watched, per cop_bh camera.", ("camera",)
        )
        self.video_source_failures = Counter(
            "guarita_video_source_failures_total",
            "Times a live view's camera source ended, stalled or could not be opened.",
            ("camera",),
        )
        self.playback_export_cleanup_failures = Counter(
            "guarita_playback_export_cleanup_failures_total",
            "Frigate exports of playbacks Guarita could not delete (delete them in Frigate's Exports page).",
        )
        self.video_push_failures = Counter(
            "guarita_video_push_failures_total",
            "Live view pushes ended because the centre's ingest would not take them, per program.",
            ("program",),
        )
        self.service_restarts = Counter(
            "guarita_service_restarts_total",
            "Times a guarita run service failed and was restarted (alarm on increase).",
            ("service",),
        )
        self.latency = Histogram(
            "guarita_delivery_latency_seconds",
            "From queuing in the outbox to the uplink's PUBACK.",
            (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            ("uplink",),
        )

    def render(self) -> str:
        """All metrics in Prometheus text format."""
        lines: list[str] = []
        for metric in (
            self.received,
            self.forwarded,
            self.blocked,
            self.skipped,
            self.quarantined,
            self.quarantine_rows,
            self.quarantine_pruned,
            self.delivered,
            self.refused,
            self.dead_lettered,
            self.dead_letters,
            self.outbox_depth,
            self.outbox_bytes,
            self.retention_shortfall,
            self.hold_exports_failed,
            self.video_viewers,
            self.video_source_failures,
            self.playback_export_cleanup_failures,
            self.video_push_failures,
            self.outbox_quota_ratio,
            self.link_up,
            self.service_restarts,
            self.latency,
        ):
            lines += metric.render()
        return "\n".join(lines) + "\n"
