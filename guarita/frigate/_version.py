"""Frigate's version string (``GET /api/version``) parsed into comparable parts.

Covers: PB-01, PB-09.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FrigateVersion"]

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{7,40}$")


class FrigateVersion(BaseModel):
    """A Frigate release such as ``0.17.2-3d4dd3a``.

    Comparisons (``<``, ``>=``, ``at_least``) look only at major, minor and patch; the
    commit and any pre-release tag (``beta1``) are kept for display.

    Attributes:
        major: First number (0 for every Frigate release so far).
        minor: Second number; the one that changes the API (0.14 ... 0.17).
        patch: Third number, 0 when absent.
        prerelease: Tag between the numbers and the commit, e.g. ``beta1``, or None.
        commit: Short git hash Frigate appends to its version, or None.
        raw: The text exactly as Frigate answered it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    major: int = Field(ge=0, description="First version number.")
    minor: int = Field(ge=0, description="Second version number.")
    patch: int = Field(default=0, ge=0, description="Third version number.")
    prerelease: str | None = Field(default=None, description="Pre-release tag, e.g. beta1.")
    commit: str | None = Field(default=None, description="Short git hash of the build.")
    raw: str = Field(description="The version text as Frigate sent it.")

    @classmethod
    def parse(cls, text: str) -> FrigateVersion:
        """Parse Frigate's version text.

        Args:
            text: e.g. ``0.17.2-3d4dd3a``, ``0.14.1``, ``0.18.0-beta1-5f6043a``; surrounding
                whitespace and quotes are ignored.

        Returns:
            The parsed version.

        Raises:
            ValueError: ``text`` is not a Frigate version.
        """
        raw = text.strip().strip('"')
        match = _VERSION_RE.fullmatch(raw)
        if match is None:
            raise ValueError(f"not a Frigate version: {raw[:60]!r}")
        major, minor, patch, suffix = match.groups()
        prerelease: str | None = None
        commit: str | None = None
        if suffix:
            head, _, last = suffix.rpartition("-")
            if _COMMIT_RE.fullmatch(last):
                commit = last
                prerelease = head or None
            else:
                prerelease = suffix
        return cls(
            major=int(major),
            minor=int(minor),
            patch=int(patch or 0),
            prerelease=prerelease,
            commit=commit,
            raw=raw,
        )

    @property
    def release(self) -> tuple[int, int, int]:
        """``(major, minor, patch)``, the key used for every comparison."""
        return (self.major, self.minor, self.patch)

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        """Tell whether this version is ``major.minor.patch`` or newer.

        Args:
            major: Required major number.
            minor: Required minor number.
            patch: Required patch number.

        Returns:
            True when ``release >= (major, minor, patch)``.
        """
        return self.release >= (major, minor, patch)

    def __lt__(self, other: FrigateVersion) -> bool:
        return self.release < other.release

    def __le__(self, other: FrigateVersion) -> bool:
        return self.release <= other.release

    def __gt__(self, other: FrigateVersion) -> bool:
        return self.release > other.release

    def __ge__(self, other: FrigateVersion) -> bool:
        return self.release >= other.release

    def __str__(self) -> str:
        return self.raw
