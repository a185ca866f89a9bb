"""The route replay as one HTML page: the track drawn in SVG, event markers, a time slider.

Positions are projected equirectangularly (x = lon·cos(mid-latitude), y = lat), scaled to
fit and centred: over a city, distances on the drawing are true to well under 1%. A scale
bar and a north arrow stand in for the map. A small inline script moves a marker along
the track as the slider moves and shows time, speed and position.

Covers: DT-19.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import TYPE_CHECKING

from guarita.reports._events_html import reading_cell, trail_cell
from guarita.reports._format import local_text, number_text
from guarita.reports._html import card, esc, event_colour, event_label, kind_cell, page

if TYPE_CHECKING:
    from guarita.reports.route import Route, TrackPoint

__all__ = ["render_route_page"]

_W, _PAD = 960, 40
_MIN_H, _MAX_H = 300, 640  # the drawing's height follows the track's shape within these
_MIN_SPAN_DEG = 0.002  # about 200 m: a parked bus still gets a readable drawing
_MAX_POINTS = 20_000  # the slider's points; longer tracks are thinned evenly
_METRES_PER_DEG = 111_320.0
_CSS = """
.map{border:1px solid #d5d8dc;border-radius:6px;background:#f4f6f7;display:block}
.player{display:flex;align-items:center;gap:12px;margin:10px 0;flex-wrap:wrap}
.player input{flex:1;min-width:260px}.player button{font:inherit;padding:4px 12px}
#readout{font-variant-numeric:tabular-nums;min-width:420px}
.dot{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px;vertical-align:-1px}
.line{display:inline-block;width:22px;height:4px;border-radius:2px;margin-right:6px;vertical-align:3px}
"""
_SCRIPT = """
(function(){
var P=JSON.parse(document.getElementById('track-data').textContent);
var s=document.getElementById('slider'),c=document.getElementById('cursor'),r=document.getElementById('readout'),
    d=document.getElementById('done'),b=document.getElementById('play'),t=null;
function show(i){var p=P[i];c.setAttribute('cx',p[0]);c.setAttribute('cy',p[1]);
  d.setAttribute('points',P.slice(0,i+1).map(function(q){return q[0]+','+q[1];}).join(' '));
  r.textContent=p[2]+' \\u00b7 '+(p[3]===null?'speed unknown':p[3].toFixed(1)+' km/h')+' \\u00b7 '+
    p[4].toFixed(5)+', '+p[5].toFixed(5);}
function stop(){clearInterval(t);t=null;b.textContent='\\u25b6 Play';}
s.addEventListener('input',function(){show(+s.value);});
b.addEventListener('click',function(){if(t){stop();return;}if(+s.value>=P.length-1){s.value=0;}
  b.textContent='\\u275a\\u275a Pause';t=setInterval(function(){if(+s.value>=P.length-1){stop();return;}
  s.value=+s.value+1;show(+s.value);},Math.max(15,10000/P.length));});
show(+s.value);
})();
"""


class _Projection:
    """Equirectangular lat/lon → SVG pixels, fitted and centred."""

    def __init__(self, lats: list[float], lons: list[float]) -> None:
        self.kx = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = max((max(lons) - min(lons)) * self.kx, _MIN_SPAN_DEG)
        span_y = max(max(lats) - min(lats), _MIN_SPAN_DEG)
        self.height = round(min(max((_W - 2 * _PAD) * span_y / span_x + 2 * _PAD, _MIN_H), _MAX_H))
        self.scale = min((_W - 2 * _PAD) / span_x, (self.height - 2 * _PAD) / span_y)
        self.cx = (max(lons) + min(lons)) / 2 * self.kx
        self.cy = (max(lats) + min(lats)) / 2

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        return (round(_W / 2 + (lon * self.kx - self.cx) * self.scale, 1),
                round(self.height / 2 - (lat - self.cy) * self.scale, 1))

    def scale_bar(self) -> tuple[int, float]:
        """A round length in metres whose bar is at most 160 px, and its length in px."""
        px_per_metre = self.scale / _METRES_PER_DEG
        lengths = [m * f for m in (1, 10, 100, 1000, 10_000, 100_000) for f in (1, 2, 5)]
        metres = max((m for m in lengths if m * px_per_metre <= 160), default=1)
        return metres, metres * px_per_metre


def _thin(points: tuple[TrackPoint, ...]) -> list[TrackPoint]:
    if len(points) <= _MAX_POINTS:
        return list(points)
    stride = math.ceil(len(points) / _MAX_POINTS)
    return [*points[:-1:stride], points[-1]]


def _label(x: float, y: float, text: str, colour: str) -> str:
    """A marker's label beside it, on the side with room (never cut by the drawing's edge)."""
    right = x < _W * 0.75
    anchor, dx = ("start", 12) if right else ("end", -12)
    return f'<text x="{x + dx:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{colour}" font-weight="600">{text}</text>'


def _drawing(route: Route, track: list[TrackPoint], zone: dt.tzinfo) -> tuple[str, str]:
    """The SVG and the slider's JSON data."""
    fixes = [(e.lat, e.lon) for e in route.events if e.lat is not None and e.lon is not None]
    project = _Projection([p.lat for p in track] + [f[0] for f in fixes], [p.lon for p in track] + [f[1] for f in fixes])
    xy = [project(p.lat, p.lon) for p in track]
    line = " ".join(f"{x},{y}" for x, y in xy)
    (sx, sy), (ex, ey) = xy[0], xy[-1]
    metres, bar = project.scale_bar()
    h = project.height
    bar_label = f"{metres // 1000} km" if metres >= 1000 else f"{metres} m"
    parts = [
        f'<svg class="map" viewBox="0 0 {_W} {h}" width="{_W}" height="{h}" role="img" '
        f'aria-label="Track of vehicle {esc(route.vehicle)}" font-family="system-ui,Arial,sans-serif" font-size="12">',
        f'<polyline points="{line}" fill="none" stroke="#aeb6bf" stroke-width="4" stroke-linejoin="round" '
        'stroke-linecap="round"/>',
        '<polyline id="done" points="" fill="none" stroke="#1f618d" stroke-width="4" stroke-linejoin="round" '
        'stroke-linecap="round"/>',
        f'<circle cx="{sx}" cy="{sy}" r="7" fill="#1e8449" stroke="#fff" stroke-width="2"><title>Start '
        f"{esc(local_text(track[0].ts, zone))}</title></circle>",
        _label(sx, sy - 10, "Start", "#1e8449"),
        f'<rect x="{ex - 6}" y="{ey - 6}" width="12" height="12" fill="#1c2833" stroke="#fff" stroke-width="2">'
        f"<title>End {esc(local_text(track[-1].ts, zone))}</title></rect>",
        _label(ex, ey + 20, "End", "#1c2833"),
    ]
    for number, event in enumerate(route.events, start=1):
        if event.lat is None or event.lon is None:
            continue
        x, y = project(event.lat, event.lon)
        tip = f"#{number} {local_text(event.ts, zone)} {event_label(event.kind)}"
        parts.append(
            f'<g><circle cx="{x}" cy="{y}" r="9" fill="{event_colour(event.kind)}" stroke="#fff" stroke-width="2"/>'
            f'<text x="{x}" y="{y + 4}" text-anchor="middle" fill="#fff" font-size="10" font-weight="700">{number}'
            f"</text><title>{esc(tip)}</title></g>"
        )
    parts += [
        f'<circle id="cursor" cx="{sx}" cy="{sy}" r="8" fill="#f1c40f" stroke="#1c2833" stroke-width="2"/>',
        f'<line x1="20" x2="{20 + bar:.1f}" y1="{h - 20}" y2="{h - 20}" stroke="#1c2833" stroke-width="3"/>',
        f'<text x="20" y="{h - 28}" fill="#1c2833">{bar_label}</text>',
        f'<text x="{_W - 24}" y="30" text-anchor="middle" fill="#1c2833" font-weight="700">N</text>',
        f'<path d="M{_W - 24} 36 l-6 14 h12 z" fill="#1c2833"/>',
        "</svg>",
    ]
    data = [[x, y, local_text(p.ts, zone), p.speed_kmh, p.lat, p.lon] for (x, y), p in zip(xy, track, strict=True)]
    return "".join(parts), json.dumps(data).replace("<", "\\u003c")


def _events_table(route: Route, zone: dt.tzinfo) -> str:
    if not route.events:
        return '<p class="muted">No sensor events in this period.</p>'
    rows = "".join(
        f'<tr><td class="num">{n}</td><td class="num">{esc(local_text(e.ts, zone))}</td>{kind_cell(e.kind)}'
        f'<td class="num">{esc(number_text(e.speed_kmh))}</td><td class="fig">{reading_cell(e)}</td>'
        f'<td class="handling">{trail_cell(e, zone)}</td></tr>'
        for n, e in enumerate(route.events, start=1)
    )
    head = ("<tr><th>#</th><th>Time (local)</th><th>Event</th><th>Speed (km/h)</th><th>Reading</th>"
            "<th>Handling: action, user, date and time, note</th></tr>")
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def render_route_page(route: Route, *, company: str, plate: str | None, generated_at: dt.datetime) -> str:
    """The whole page; a period without positions says so instead of drawing nothing."""
    zone = route.period.zone
    who = f"vehicle {route.vehicle}" + (f" ({plate})" if plate else "")
    header = f'<h1>Route replay – {esc(who)}</h1><p class="meta">{esc(company)} · {esc(route.period.label())}</p>'
    footer = (f"Generated {generated_at.astimezone(zone).strftime('%Y-%m-%d %H:%M:%S')} by Guarita "
              "(Portaria DETRO/RJ 958/2009: replay of a vehicle's route). Drawn from GPS fixes; no map data.")
    events = f"<h2>Events on this route</h2>{_events_table(route, zone)}"
    if not route.points:
        body = f'{header}<p class="empty">No positions recorded for {esc(who)} in this period.</p>{events}'
        return page(f"Route replay – {who}", body, footer=footer, css=_CSS)
    track = _thin(route.points)
    svg, data = _drawing(route, track, zone)
    top = route.max_speed_kmh
    cards = (card("positions", len(route.points)) + card("km driven", f"{route.distance_km:.1f}")
             + card("top speed (km/h)", "—" if top is None else f"{top:.0f}") + card("events", len(route.events)))
    key = (
        '<p class="legend"><span><span class="dot" style="background:#1e8449"></span>start</span>'
        '<span><span class="swatch" style="background:#1c2833"></span>end</span>'
        '<span><span class="dot" style="background:#f1c40f;border:1px solid #1c2833"></span>position at the '
        'slider\'s time</span><span><span class="line" style="background:#aeb6bf"></span>track</span>'
        '<span><span class="line" style="background:#1f618d"></span>driven up to the slider</span>'
        "<span>numbered circles: the events below, in the colour of their type</span></p>"
    )
    thinned = "" if len(track) == len(route.points) else (
        f'<p class="muted">The slider steps through {len(track)} of the {len(route.points)} positions.</p>')
    first = track[0]
    speed = "speed unknown" if first.speed_kmh is None else f"{first.speed_kmh:.1f} km/h"
    player = (
        '<div class="player"><button id="play" type="button">&#9654; Play</button>'
        f'<input id="slider" type="range" min="0" max="{len(track) - 1}" value="0" step="1" '
        'aria-label="Time along the route">'
        f'<span id="readout">{esc(local_text(first.ts, zone))} · {esc(speed)} · {first.lat:.5f}, {first.lon:.5f}'
        "</span></div>"
    )
    body = (
        f'{header}<div class="summary">{cards}</div>{player}{svg}{key}{thinned}{events}'
        f'<script type="application/json" id="track-data">{data}</script><script>{_SCRIPT}</script>'
    )
    return page(f"Route replay – {who}", body, footer=footer, css=_CSS)
