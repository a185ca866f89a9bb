"""Agencies at COP-BH and their areas of interest: who may see which camera.

COP-BH shares images with partner institutions according to each one's area of interest
(BH-05). Each agency's area is GeoJSON: a file (Feature, FeatureCollection or bare
geometry) or an inline Polygon/MultiPolygon, read when the config loads. A camera belongs
to every agency whose area covers its location (the boundary included). Geometry is
shapely's; GeoJSON positions are (longitude, latitude).

Covers: BH-05, BH-09.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from guarita.errors import GuaritaError

__all__ = ["AgencyArea", "AreaError", "agencies_covering", "load_area"]

_AREA_TYPES = {"Polygon", "MultiPolygon"}


class AreaError(GuaritaError, ValueError):
    """An agency's area is not usable GeoJSON; the message says why."""


@dataclass(frozen=True)
class AgencyArea:
    """One agency's area of interest."""

    agency: str
    geometry: BaseGeometry

    def covers(self, lat: float, lon: float) -> bool:
        """Whether a point (WGS 84) lies in the area or on its boundary."""
        return bool(self.geometry.covers(Point(lon, lat)))


def _geometries(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise AreaError("a FeatureCollection needs at least one feature")
        return [g for feature in features for g in _geometries(feature)]
    if kind == "Feature":
        geometry = document.get("geometry")
        if not isinstance(geometry, Mapping):
            raise AreaError("a Feature needs a geometry")
        return [geometry]
    if kind in _AREA_TYPES:
        return [document]
    raise AreaError(f"expected a Polygon or MultiPolygon (or a Feature/FeatureCollection of them), got {kind!r}")


def load_area(agency: str, area: str | Path | Mapping[str, Any], base_dir: Path) -> AgencyArea:
    """Build an agency's area from a GeoJSON file path or an inline geometry.

    Raises:
        AreaError: unreadable file, not GeoJSON, not a polygon, or an invalid polygon.
    """
    if isinstance(area, Mapping):
        document: Any = area
    else:
        path = Path(area) if Path(area).is_absolute() else base_dir / area
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise AreaError(f"cannot read {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise AreaError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(document, Mapping):
        raise AreaError("the area must be a GeoJSON object")
    parts = []
    for geometry in _geometries(document):
        if geometry.get("type") not in _AREA_TYPES:
            raise AreaError(f"only Polygon and MultiPolygon areas are accepted, not {geometry.get('type')!r}")
        try:
            parts.append(shape(dict(geometry)))
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise AreaError(f"malformed {geometry.get('type')} coordinates: {exc}") from exc
    merged = unary_union(parts)
    if merged.is_empty or not merged.is_valid:
        raise AreaError("the polygon is empty or invalid (self-intersecting, or a ring not closed)")
    return AgencyArea(agency, merged)


def agencies_covering(areas: list[AgencyArea], lat: float, lon: float) -> tuple[str, ...]:
    """Ids of the agencies whose area covers the point, in config order."""
    return tuple(area.agency for area in areas if area.covers(lat, lon))
