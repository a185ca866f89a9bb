"""The camera list of the Frigate stand-in, loaded from a small YAML file.

Part of a **stand-in for Frigate** (tests and ``guarita demo``), not Frigate. Example file::

    cameras:
      - name: street_front
        friendly_name: Street (front, shared)
        detect_width: 1280
        detect_height: 720
        detect_fps: 5
        record_enabled: true
        retention_days: 7
        zones: [sidewalk]

Covers: PB-01.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from guarita.errors import ConfigError, ConfigProblem

__all__ = ["StandinCamera", "StandinCameras", "default_demo_cameras"]


class StandinCamera(BaseModel):
    """One camera served by the stand-in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]+$", description="Frigate camera name.")
    friendly_name: str | None = Field(default=None, description="Name shown to people.")
    detect_width: int = Field(default=1280, gt=0, description="Detect width in pixels.")
    detect_height: int = Field(default=720, gt=0, description="Detect height in pixels.")
    detect_fps: int = Field(default=5, gt=0, le=30, description="Detect frames per second.")
    record_enabled: bool = Field(default=True, description="Whether the camera records.")
    retention_days: float = Field(default=7, ge=0, description="Days recordings are kept.")
    motion_days: float | None = Field(
        default=None, ge=0,
        description="Days footage with motion is kept when it differs from retention_days: 0.17 "
                    "record.motion.days (continuous stays retention_days); before 0.17 record.retain "
                    "with mode motion.")
    zones: tuple[str, ...] = Field(default=(), description="Zone names defined on the camera.")

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(detect_width, detect_height)``."""
        return (self.detect_width, self.detect_height)


class StandinCameras(BaseModel):
    """The stand-in's cameras, in Frigate's order; names are unique."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cameras: tuple[StandinCamera, ...] = Field(min_length=1, description="Cameras served.")

    @model_validator(mode="after")
    def _unique_names(self) -> StandinCameras:
        names = [camera.name for camera in self.cameras]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"camera {name!r} is listed twice")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """Camera names in order."""
        return tuple(camera.name for camera in self.cameras)

    def get(self, name: str) -> StandinCamera | None:
        """The camera called ``name``, or None."""
        return next((camera for camera in self.cameras if camera.name == name), None)

    def __iter__(self) -> Iterator[StandinCamera]:  # type: ignore[override]
        return iter(self.cameras)

    def __contains__(self, name: object) -> bool:
        return any(camera.name == name for camera in self.cameras)

    @classmethod
    def from_yaml(cls, path: Path) -> StandinCameras:
        """Load a camera list; every mistake is reported as ``file:line:col key.path: msg``.

        Raises:
            ConfigError: unreadable YAML or invalid values.
        """
        text = path.read_text(encoding="utf-8")
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise ConfigError(
                [ConfigProblem(str(path), line, col, "(yaml)", str(exc.problem))]
            ) from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                loc = tuple(error["loc"])
                line, col = _mark(root, loc)
                key_path = ".".join(str(part) for part in loc) or "(root)"
                problems.append(ConfigProblem(str(path), line, col, key_path, error["msg"]))
            raise ConfigError(problems) from exc


def _mark(node: Any, loc: tuple[Any, ...]) -> tuple[int, int]:
    """1-based line and column of the deepest YAML node found along ``loc``."""
    best = node
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    best, child = key, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                child = best = node.value[part]
        if child is None:
            break
        node = child
    if best is None:
        return (1, 1)
    return (best.start_mark.line + 1, best.start_mark.column + 1)


def default_demo_cameras() -> StandinCameras:
    """The demo site: a shared street camera, a private backyard, and one bus (two cameras)."""
    return StandinCameras(
        cameras=(
            StandinCamera(
                name="street_front", friendly_name="Street (front, shared)",
                retention_days=7, zones=("sidewalk", "street"),
            ),
            StandinCamera(
                name="backyard", friendly_name="Backyard (private)",
                retention_days=3, zones=("patio",),
            ),
            StandinCamera(
                name="bus_10234_interior", friendly_name="Bus 10234 interior",
                detect_width=640, detect_height=360, retention_days=30, zones=("door",),
            ),
            StandinCamera(
                name="bus_10234_front", friendly_name="Bus 10234 front",
                retention_days=30, zones=(),
            ),
        )
    )
