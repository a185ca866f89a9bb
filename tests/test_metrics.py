"""The Prometheus text exposition of ``guarita.metrics``: counters, gauges, histograms.

Besides exact renderings, every line Guarita exposes is checked against a strict grammar of
the text format (version 0.0.4), so a scraper never chokes on ``/metrics``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest

from guarita.metrics import Counter, Gauge, Histogram, Metrics

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_VALUE = r'(?:[^"\\\n]|\\\\|\\"|\\n)*'
LABELS = rf'\{{(?:[a-zA-Z_][a-zA-Z0-9_]*="{LABEL_VALUE}")(?:,[a-zA-Z_][a-zA-Z0-9_]*="{LABEL_VALUE}")*\}}'
NUMBER = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]Inf|NaN)"
HELP_LINE = re.compile(rf"^# HELP ({NAME}) ((?:[^\\\n]|\\\\|\\n)*)$")
TYPE_LINE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
SAMPLE_LINE = re.compile(rf"^({NAME})({LABELS})? ({NUMBER})$")
LABEL_PAIR = re.compile(rf'([a-zA-Z_][a-zA-Z0-9_]*)="({LABEL_VALUE})"')


def parse(text: str) -> dict[str, dict[str, object]]:
    """Parse exposition text strictly; returns family → {type, help, samples[(name, labels, value)]}."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families: dict[str, dict[str, object]] = {}
    current: str | None = None
    for number, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("# HELP "):
            match = HELP_LINE.match(line)
            assert match, f"line {number}: bad HELP: {line!r}"
            name = match.group(1)
            assert name not in families, f"line {number}: family {name} appears twice"
            families[name] = {"help": match.group(2), "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            match = TYPE_LINE.match(line)
            assert match, f"line {number}: bad TYPE: {line!r}"
            assert match.group(1) == current, f"line {number}: TYPE must follow its HELP"
            assert not families[current]["samples"], f"line {number}: TYPE after samples"
            families[current]["type"] = match.group(2)
        else:
            match = SAMPLE_LINE.match(line)
            assert match, f"line {number}: bad sample: {line!r}"
            name, labels, value = match.groups()
            assert current is not None and families[current]["type"], f"line {number}: sample before TYPE"
            kind = families[current]["type"]
            allowed = {current} if kind != "histogram" else {f"{current}_bucket", f"{current}_sum", f"{current}_count"}
            assert name in allowed, f"line {number}: {name} is not part of {current}"
            pairs = dict(LABEL_PAIR.findall(labels or ""))
            samples = families[current]["samples"]
            assert isinstance(samples, list)
            samples.append((name, pairs, float(value.replace("Inf", "inf"))))
    return families


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], value)


# covers PB-05
def test_counter_renders_help_type_and_sorted_samples() -> None:
    counter = Counter("guarita_x_total", "Things counted.", ("program", "reason"))
    counter.inc("detro", "no_vehicle")
    counter.inc("cop_bh", "no_consent", by=2)
    counter.inc("cop_bh", "no_consent")
    assert counter.get("cop_bh", "no_consent") == 3
    assert counter.get("cop_bh", "never") == 0
    assert counter.render() == [
        "# HELP guarita_x_total Things counted.",
        "# TYPE guarita_x_total counter",
        'guarita_x_total{program="cop_bh",reason="no_consent"} 3',
        'guarita_x_total{program="detro",reason="no_vehicle"} 1',
    ]


# covers PB-05
def test_a_metric_without_samples_still_declares_itself() -> None:
    assert Counter("a_total", "A.").render() == ["# HELP a_total A.", "# TYPE a_total counter"]
    assert Histogram("h", "H.", (1.0,)).render() == ["# HELP h H.", "# TYPE h histogram"]


# covers PB-05
def test_numbers_render_as_integers_floats_and_infinities() -> None:
    gauge = Gauge("g", "G.", ("k",))
    for key, value in {"a": 3.0, "b": 0.25, "c": math.inf, "d": -math.inf, "e": 1e21, "f": -2}.items():
        gauge.set(value, key)
    assert gauge.render()[2:] == [
        'g{k="a"} 3', 'g{k="b"} 0.25', 'g{k="c"} +Inf', 'g{k="d"} -Inf', 'g{k="e"} 1000000000000000000000', 'g{k="f"} -2',
    ]
    parse("\n".join(gauge.render()) + "\n")


# covers PB-05
def test_label_values_are_escaped() -> None:
    counter = Counter("c_total", "C.", ("camera",))
    nasty = 'back\\slash "quoted"\nnew line, ünïcode {}'
    counter.inc(nasty)
    line = counter.render()[2]
    assert line == 'c_total{camera="back\\\\slash \\"quoted\\"\\nnew line, ünïcode {}"} 1'
    (family,) = parse("\n".join(counter.render()) + "\n").values()
    samples = family["samples"]
    assert isinstance(samples, list)
    assert unescape(samples[0][1]["camera"]) == nasty


# covers PB-05
def test_help_text_is_escaped() -> None:
    counter = Counter("c_total", "first line\nsecond \\ line")
    assert counter.render()[0] == "# HELP c_total first line\\nsecond \\\\ line"


# covers PB-05
def test_gauge_reads_its_source_at_every_scrape() -> None:
    depth = {"detro": 0}
    gauge = Gauge("guarita_outbox_depth", "Depth.", ("uplink",))
    gauge.set(99, "ignored")
    gauge.source = lambda: {(name,): float(value) for name, value in depth.items()}
    assert gauge.render()[2:] == ['guarita_outbox_depth{uplink="detro"} 0']
    depth["detro"] = 7
    depth["cop_bh"] = 1
    assert gauge.render()[2:] == ['guarita_outbox_depth{uplink="cop_bh"} 1', 'guarita_outbox_depth{uplink="detro"} 7']


# covers PB-05
def test_gauge_without_labels_and_without_source() -> None:
    gauge = Gauge("guarita_outbox_bytes", "Bytes.")
    gauge.set(12.5)
    assert gauge.render() == ["# HELP guarita_outbox_bytes Bytes.", "# TYPE guarita_outbox_bytes gauge", "guarita_outbox_bytes 12.5"]


# covers PB-05
def test_histogram_buckets_are_cumulative_with_inf_sum_and_count() -> None:
    histogram = Histogram("lat_seconds", "Latency.", (0.1, 1, 2.5), ("uplink",))
    for value in (0.05, 0.1, 0.5, 1, 3, 100):  # a bound itself falls in its own bucket (le)
        histogram.observe(value, "detro")
    histogram.observe(0.2, "cop_bh")
    assert histogram.render() == [
        "# HELP lat_seconds Latency.",
        "# TYPE lat_seconds histogram",
        'lat_seconds_bucket{uplink="cop_bh",le="0.1"} 0',
        'lat_seconds_bucket{uplink="cop_bh",le="1"} 1',
        'lat_seconds_bucket{uplink="cop_bh",le="2.5"} 1',
        'lat_seconds_bucket{uplink="cop_bh",le="+Inf"} 1',
        'lat_seconds_sum{uplink="cop_bh"} 0.2',
        'lat_seconds_count{uplink="cop_bh"} 1',
        'lat_seconds_bucket{uplink="detro",le="0.1"} 2',
        'lat_seconds_bucket{uplink="detro",le="1"} 4',
        'lat_seconds_bucket{uplink="detro",le="2.5"} 4',
        'lat_seconds_bucket{uplink="detro",le="+Inf"} 6',
        'lat_seconds_sum{uplink="detro"} 104.65',
        'lat_seconds_count{uplink="detro"} 6',
    ]


# covers PB-05
def test_histogram_without_labels() -> None:
    histogram = Histogram("h_seconds", "H.", (1, 2))
    histogram.observe(1.5)
    assert histogram.render()[2:] == [
        'h_seconds_bucket{le="1"} 0',
        'h_seconds_bucket{le="2"} 1',
        'h_seconds_bucket{le="+Inf"} 1',
        "h_seconds_sum 1.5",
        "h_seconds_count 1",
    ]


# covers PB-05
def test_guarita_metrics_parse_strictly_and_are_consistent() -> None:
    metrics = Metrics()
    metrics.received.inc("frigate/events", by=5)
    metrics.forwarded.inc("detro", by=3)
    metrics.blocked.inc("cop_bh", "no_consent")
    metrics.skipped.inc("unknown_camera")
    metrics.quarantined.inc("not_json")
    metrics.delivered.inc("detro", by=3)
    metrics.refused.inc("detro")
    metrics.dead_lettered.inc("detro", "refused")
    metrics.dead_letters.source = lambda: {(): 1.0}
    metrics.quarantine_rows.source = lambda: {(): 1.0}
    metrics.quarantine_pruned.source = lambda: {(): 0.0}
    metrics.outbox_depth.source = lambda: {("detro",): 0.0}
    metrics.outbox_bytes.source = lambda: {(): 0.0}
    metrics.outbox_quota_ratio.source = lambda: {(): 0.0}
    metrics.link_up.set(1, 'uplink "detro"')
    for seconds in (0.003, 0.02, 0.02, 7200):
        metrics.latency.observe(seconds, "detro")
    families = parse(metrics.render())
    assert set(families) == {
        "guarita_events_received_total", "guarita_events_forwarded_total", "guarita_events_blocked_total",
        "guarita_events_skipped_total", "guarita_events_quarantined_total", "guarita_messages_delivered_total",
        "guarita_messages_refused_total", "guarita_outbox_depth", "guarita_outbox_bytes", "guarita_outbox_quota_ratio",
        "guarita_link_up", "guarita_delivery_latency_seconds", "guarita_frigate_retention_shortfall",
        "guarita_messages_dead_lettered_total", "guarita_dead_letters", "guarita_quarantine_rows",
        "guarita_quarantine_pruned_total",
        "guarita_hold_exports_failed", "guarita_video_viewers", "guarita_video_source_failures_total",
        "guarita_video_push_failures_total",
        "guarita_service_restarts_total", "guarita_playback_export_cleanup_failures_total",
    }
    for name, family in families.items():
        assert family["help"], f"{name} has a help text"
        if name.endswith("_total"):
            assert family["type"] == "counter"
    latency = families["guarita_delivery_latency_seconds"]
    assert latency["type"] == "histogram"
    samples = latency["samples"]
    assert isinstance(samples, list)
    buckets = [(s[1]["le"], s[2]) for s in samples if s[0].endswith("_bucket")]
    counts = [count for _, count in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    assert buckets[-1] == ("+Inf", 4.0)
    bounds = [float(le.replace("Inf", "inf")) for le, _ in buckets]
    assert bounds == sorted(bounds)
    by_name: dict[str, float] = defaultdict(float)
    for sample_name, _, value in samples:
        by_name[sample_name] += value if not sample_name.endswith("_bucket") else 0
    assert by_name["guarita_delivery_latency_seconds_count"] == 4
    assert by_name["guarita_delivery_latency_seconds_sum"] == pytest.approx(7200.043)
    link = families["guarita_link_up"]["samples"]
    assert isinstance(link, list)
    assert unescape(link[0][1]["link"]) == 'uplink "detro"'


# covers PB-05
def test_an_idle_guarita_exposes_every_family_without_samples() -> None:
    families = parse(Metrics().render())
    assert len(families) == 23
    assert all(family["samples"] == [] for family in families.values())
