"""The share gate: the only place that decides whether a camera's data may leave.

``decide`` is a pure function of (camera, program, now, registry state) that returns every
reason that applies; a camera is shared with COP-BH only when none does. DETRO cameras are
mandatory by regulation (Portaria 958/2009) and are not gated by consent, but still need
their vehicle binding. If the registry cannot be read, nothing is shared (fail closed).

``guarita run`` reads the registry through ``consent.registry.LiveRegistry``.
``StaticRegistry`` is a fixed view (tests, snapshots); ``EmptyRegistry`` is one with nothing
in it, through which nothing reaches COP-BH.

Covers: BH-02, BH-03, BH-04, BH-07, BH-09, PB-03.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from guarita.config import CameraConfig, ProgramName
from guarita.errors import GuaritaError

__all__ = [
    "CameraShareState",
    "ConsentRecord",
    "EmptyRegistry",
    "RegistryUnavailable",
    "RegistryView",
    "ShareDecision",
    "ShareReason",
    "StaticRegistry",
    "decide",
]


class ShareReason(StrEnum):
    """Why a camera's data may not leave for a program."""

    NO_CLIENT = "no_client"
    NO_CONSENT = "no_consent"
    CONSENT_REVOKED = "consent_revoked"
    CONSENT_EXPIRED = "consent_expired"
    NOT_PUBLIC_FACING = "not_public_facing"
    NO_SIGNAGE = "no_signage"
    PROVIDER_NOT_ACCREDITED = "provider_not_accredited"
    PROGRAM_NOT_ENABLED = "program_not_enabled"
    NO_VEHICLE = "no_vehicle"
    REGISTRY_UNAVAILABLE = "registry_unavailable"


@dataclass(frozen=True)
class ConsentRecord:
    """A client's authorisation to share a camera with some programs."""

    programs: frozenset[ProgramName]
    granted_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class CameraShareState:
    """What the registry knows about one camera."""

    client_id: str | None = None
    consent: ConsentRecord | None = None
    public_facing: bool = False
    signage_plate: str | None = None


@dataclass(frozen=True)
class ShareDecision:
    """The gate's answer: shared only when ``reasons`` is empty."""

    shared: bool
    reasons: tuple[ShareReason, ...]


class RegistryUnavailable(GuaritaError):
    """The registry could not be read; the gate then shares nothing."""


class RegistryView(Protocol):
    """Read access to the consent/signage registry."""

    def provider_accredited(self) -> bool:
        """Whether the provider is accredited under the public call (BH-01)."""
        ...

    def camera_state(self, camera: str) -> CameraShareState:
        """The camera's registry state (an empty state when unknown)."""
        ...


class EmptyRegistry:
    """A registry with nothing in it: no client, no consent, provider not accredited."""

    def provider_accredited(self) -> bool:
        return False

    def camera_state(self, camera: str) -> CameraShareState:
        return CameraShareState()


@dataclass(frozen=True)
class StaticRegistry:
    """A fixed, in-memory registry (used by ``guarita demo`` and tests)."""

    accredited: bool
    cameras: dict[str, CameraShareState]

    def provider_accredited(self) -> bool:
        return self.accredited

    def camera_state(self, camera: str) -> CameraShareState:
        return self.cameras.get(camera, CameraShareState())


def _consent_reasons(program: ProgramName, consent: ConsentRecord | None, now: datetime) -> list[ShareReason]:
    if consent is None or program not in consent.programs:
        return [ShareReason.NO_CONSENT]
    if consent.revoked_at is not None and consent.revoked_at <= now:
        return [ShareReason.CONSENT_REVOKED]
    if consent.expires_at is not None and consent.expires_at <= now:
        return [ShareReason.CONSENT_EXPIRED]
    return []


def decide(
    camera: CameraConfig,
    camera_name: str,
    program: ProgramName,
    program_enabled: bool,
    now: datetime,
    registry: RegistryView,
) -> ShareDecision:
    """Decide whether ``camera_name``'s data may go to ``program`` at ``now``.

    Covers: BH-02, BH-03, BH-04, DT-14.
    """
    reasons: list[ShareReason] = []
    if program not in camera.programs or not program_enabled:
        reasons.append(ShareReason.PROGRAM_NOT_ENABLED)
    if program is ProgramName.DETRO:
        if camera.vehicle is None:
            reasons.append(ShareReason.NO_VEHICLE)
        return ShareDecision(not reasons, tuple(reasons))
    try:
        accredited = registry.provider_accredited()
        state = registry.camera_state(camera_name)
    except RegistryUnavailable:
        return ShareDecision(False, (*reasons, ShareReason.REGISTRY_UNAVAILABLE))
    if not accredited:
        reasons.append(ShareReason.PROVIDER_NOT_ACCREDITED)
    if state.client_id is None:
        reasons.append(ShareReason.NO_CLIENT)
    reasons += _consent_reasons(program, state.consent, now)
    if not state.public_facing:
        reasons.append(ShareReason.NOT_PUBLIC_FACING)
    if state.signage_plate is None:
        reasons.append(ShareReason.NO_SIGNAGE)
    return ShareDecision(not reasons, tuple(reasons))
