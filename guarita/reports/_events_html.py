"""The events history as one HTML page: summary cards, an SVG bar chart, a legend, the table.

The chart stacks each local day's events by type (one colour per type, the legend beside
it); the table lists every event with its handling trail, or says it is not handled.

Covers: DT-16, DT-17, DT-18.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from guarita.reports._format import event_unit, local_text, number_text
from guarita.reports._html import card, esc, event_colour, event_label, kind_cell, page

if TYPE_CHECKING:
    from guarita.reports.events_history import EventHistory, EventRecord

__all__ = ["reading_cell", "render_events_page", "trail_cell"]

_WIDTH, _HEIGHT = 960, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 16, 44


def _step(top: int) -> int:
    """A round gridline step giving at most 6 lines up to ``top``."""
    for magnitude in (1, 10, 100, 1000, 10_000, 100_000):
        for factor in (1, 2, 5):
            if top / (factor * magnitude) <= 6:
                return factor * magnitude
    return 1_000_000


def _chart(history: EventHistory) -> str:
    days = history.per_day()
    kinds = history.kinds()
    peak = max((sum(counts.values()) for counts in days.values()), default=0)
    step = _step(max(peak, 1))
    top = max(step, math.ceil(peak / step) * step)
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    slot = plot_w / len(days)
    bar = max(1.0, min(slot * 0.72, 48.0))
    every = max(1, math.ceil(len(days) / 16))
    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" '
        f'height="{_HEIGHT}" role="img" aria-label="Events per day by type" font-size="11" '
        'font-family="system-ui,Arial,sans-serif">'
    ]
    for value in range(0, top + 1, step):
        y = _TOP + plot_h - plot_h * value / top
        parts.append(f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e8e8"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#566573">{value}</text>')
    for index, (day, counts) in enumerate(sorted(days.items())):
        x = _LEFT + index * slot + (slot - bar) / 2
        base = float(_TOP + plot_h)
        for kind in kinds:
            count = counts.get(kind, 0)
            if not count:
                continue
            height = plot_h * count / top
            base -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{event_colour(kind)}"><title>{esc(day.isoformat())}: {count} '
                f"{esc(event_label(kind).lower())}</title></rect>"
            )
        total = sum(counts.values())
        if total and slot >= 16:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle" fill="#1c2833">{total}</text>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle" '
                f'fill="#566573">{day.strftime("%m-%d")}</text>'
            )
    parts.append(
        f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}" stroke="#566573"/>'
    )
    first, last = min(days), max(days)
    parts.append(
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_HEIGHT - 6}" text-anchor="middle" fill="#566573">'
        f"local day (month-day), {first.year if first.year == last.year else f'{first.year}–{last.year}'}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _legend(history: EventHistory) -> str:
    counts: dict[str, int] = {}
    for event in history.events:
        counts[event.kind] = counts.get(event.kind, 0) + 1
    items = "".join(
        f'<span><span class="swatch" style="background:{event_colour(kind)}"></span>'
        f"{esc(event_label(kind))} ({counts[kind]})</span>"
        for kind in history.kinds()
    )
    return f'<div class="legend">{items}</div>'


def reading_cell(event: EventRecord) -> str:
    """The event's measured value and, below it, its limit, with units (escaped HTML)."""
    if event.value is None:
        return ""

    def amount(value: float) -> str:
        return "&nbsp;".join(esc(part) for part in (number_text(value, 2), event_unit(event.kind)) if part)

    limit = "" if event.threshold is None else f'<br><span class="limit">limit {amount(event.threshold)}</span>'
    return amount(event.value) + limit


def trail_cell(event: EventRecord, zone: dt.tzinfo) -> str:
    """The handling trail as an ordered list (time · user — action, then the note), or "Not handled"."""
    if not event.trail:
        return '<span class="open">Not handled</span>'
    steps = "".join(
        f"<li>{esc(local_text(step.at, zone))} · <b>{esc(step.by)}</b> — {esc(step.action)}"
        + ("" if step.note is None else f'<br><span class="note">Note: {esc(step.note)}</span>')
        + "</li>"
        for step in event.trail
    )
    return f'<ol class="trail">{steps}</ol>'


def _table(history: EventHistory) -> str:
    zone = history.period.zone
    rows = []
    for e in history.events:
        position = f"{e.lat:.5f}, {e.lon:.5f}" if e.lat is not None and e.lon is not None else "—"
        rows.append(
            f'<tr><td class="num">{esc(local_text(e.ts, zone))}</td><td>{esc(e.vehicle)}</td>{kind_cell(e.kind)}'
            f'<td class="num">{esc(number_text(e.speed_kmh))}</td><td class="fig">{reading_cell(e)}</td>'
            f'<td class="fig">{esc(position)}</td><td>{esc(e.source)}</td>'
            f'<td class="handling">{trail_cell(e, zone)}</td></tr>'
        )
    head = (
        "<tr><th>Time (local)</th><th>Vehicle</th><th>Event</th><th>Speed (km/h)</th><th>Reading</th>"
        "<th>Position (lat, lon)</th><th>Source</th><th>Handling: action, user, date and time, note</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def render_events_page(history: EventHistory, *, company: str, generated_at: dt.datetime) -> str:
    """The whole page; an empty period says so instead of drawing an empty chart."""
    scope = f"vehicle {history.vehicle}" if history.vehicle is not None else "all vehicles"
    header = (
        "<h1>Vehicle event history</h1>"
        f'<p class="meta">{esc(company)} · {esc(scope)} · {esc(history.period.label())}</p>'
    )
    footer = (
        f"Generated {generated_at.astimezone(history.period.zone).strftime('%Y-%m-%d %H:%M:%S')} by Guarita "
        "(Portaria DETRO/RJ 958/2009: history of events and their handling)."
    )
    title = f"Vehicle event history – {scope}"
    if not history.events:
        body = header + f'<p class="empty">No events recorded for {esc(scope)} in this period.</p>'
        return page(title, body, footer=footer)
    handled = sum(1 for e in history.events if e.handled)
    vehicles = {e.vehicle for e in history.events}
    cards = (
        card("events", len(history.events)) + card("handled", handled)
        + card("not handled", len(history.events) - handled)
        + card("vehicle" if len(vehicles) == 1 else "vehicles", len(vehicles))
    )
    body = (
        f'{header}<div class="summary">{cards}</div><h2>Events per day</h2>{_chart(history)}{_legend(history)}'
        f"<h2>Events and their handling</h2>{_table(history)}"
    )
    return page(title, body, footer=footer)
