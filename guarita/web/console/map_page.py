"""The console's map: an SVG drawn on the server of the cameras' positions (``cameras.<n>.location``)
and the COP-BH agencies' areas (``programs.cop_bh.agencies.<a>.area``), with no map tiles
from the internet, and beside it the same as a text list (for screen readers and copying).

The projection is equirectangular around the middle latitude: at a city's scale the
distortion is far below what the picture shows.

Covers: BH-05, BH-03, BH-09.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.status import camera_statuses
from guarita.web.console.auth import page
from guarita.web.console.render import render, translator
from guarita.web.console.session import Operator
from guarita.web.console.state import clock_of, config_of, registry_of, audit_read

__all__ = ["Area", "Drawing", "add_map_routes", "agency_areas", "draw"]

WIDTH = 800.0
MARGIN = 20.0


@dataclass(frozen=True)
class Area:
    """An agency's area as rings of (lon, lat)."""

    agency: str
    name: str
    rings: tuple[tuple[tuple[float, float], ...], ...]


@dataclass(frozen=True)
class Drawing:
    """What the template draws: the view box's size, the areas' SVG points, the cameras' places."""

    width: float
    height: float
    areas: list[dict[str, object]]
    cameras: list[dict[str, object]]


def agency_areas(config: GuaritaConfig, base_dir: Path) -> tuple[list[Area], list[str]]:
    """Every agency's area (outer rings) and the problems reading any (as ``check-config`` says)."""
    program = config.programs.get(ProgramName.COP_BH)
    if program is None or not program.agencies:
        return [], []
    from guarita.consent.agencies import AreaError, load_area

    areas: list[Area] = []
    problems: list[str] = []
    for agency, settings in program.agencies.items():
        try:
            geometry = load_area(agency, settings.area, base_dir).geometry
        except AreaError as exc:
            problems.append(f"programs.cop_bh.agencies.{agency}.area: {exc}")
            continue
        polygons = getattr(geometry, "geoms", [geometry])
        rings = tuple(tuple((float(x), float(y)) for x, y, *_ in p.exterior.coords) for p in polygons)
        areas.append(Area(agency, settings.name, rings))
    return areas, problems


def draw(cameras: dict[str, tuple[float, float]], areas: list[Area]) -> Drawing | None:
    """Project ``cameras`` (name: (lat, lon)) and ``areas`` into an SVG view box; None when nothing has a place."""
    points = [(lon, lat) for lat, lon in cameras.values()] + [p for a in areas for r in a.rings for p in r]
    if not points:
        return None
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * squeeze, 1e-4)
    span_y = max(north - south, 1e-4)
    scale = (WIDTH - 2 * MARGIN) / max(span_x, span_y)
    height = span_y * scale + 2 * MARGIN

    def at(lon: float, lat: float) -> tuple[float, float]:
        return (round(MARGIN + (lon - west) * squeeze * scale, 1), round(MARGIN + (north - lat) * scale, 1))

    drawn_areas: list[dict[str, object]] = [
        {"agency": a.agency, "name": a.name,
         "rings": [" ".join(f"{x},{y}" for x, y in (at(lon, lat) for lon, lat in ring)) for ring in a.rings]}
        for a in areas
    ]
    drawn_cameras = [{"camera": name, "x": at(lon, lat)[0], "y": at(lon, lat)[1]}
                     for name, (lat, lon) in sorted(cameras.items())]
    return Drawing(width=WIDTH, height=round(height, 1), areas=drawn_areas, cameras=drawn_cameras)


@page("listCameras")
async def _get_map(request: web.Request, operator: Operator) -> web.StreamResponse:
    audit_read(request, operator)
    t = translator(request)
    config = config_of(request)
    areas, problems = agency_areas(config, config.base_dir)
    placed = {name: (c.location.lat, c.location.lon) for name, c in config.cameras.items() if c.location is not None}
    shared = {s.camera: any(p.shared for p in s.programs)
              for s in camera_statuses(config, registry_of(request).snapshot(), clock_of(request)())}
    rows = [{"camera": name, "lat": lat, "lon": lon, "shared": shared.get(name, False),
             "agencies": ", ".join(config.camera_agencies(name)) or t("cameras.none")}
            for name, (lat, lon) in sorted(placed.items())]
    drawing = draw(placed, areas)
    if drawing is not None:
        for item in drawing.cameras:
            item["shared"] = shared.get(str(item["camera"]), False)
    return await render(request, "map.html", {
        "title": t("map.title"), "drawing": drawing, "rows": rows, "areas": areas, "problems": problems,
        "unplaced": sorted(set(config.cameras) - set(placed)),
    }, operator=operator)


def add_map_routes(app: web.Application) -> None:
    """``GET /map``."""
    app.router.add_get("/map", _get_map)
