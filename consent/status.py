"""Each configured camera's sharing status: the share gate's answer per program, and why.

Shared by ``guarita cameras status`` and the REST API's ``GET /cameras``.

Covers: BH-02, BH-03, BH-04, PB-03.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.registry import RegistrySnapshot
from guarita.consent.share_gate import decide

__all__ = ["CameraStatus", "ProgramStatus", "camera_statuses"]


@dataclass(frozen=True)
class ProgramStatus:
    """The share gate's answer for one camera and program."""

    program: ProgramName
    shared: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CameraStatus:
    """What ``cameras status`` shows for one configured camera."""

    camera: str
    programs: tuple[ProgramStatus, ...]
    client: str | None
    consent_programs: tuple[str, ...]
    consent_since: datetime | None
    consent_expires: datetime | None
    consent_revoked: datetime | None
    public_facing: bool
    sign_plate: str | None


def camera_statuses(config: GuaritaConfig, snapshot: RegistrySnapshot, now: datetime) -> list[CameraStatus]:
    """Every configured camera with the gate's decision for each of its programs at ``now``."""
    statuses = []
    for name, camera in sorted(config.cameras.items()):
        state = snapshot.camera_state(name)
        decisions = []
        for program in camera.programs:
            enabled = program in config.programs and config.programs[program].enabled
            decision = decide(camera, name, program, enabled, now, snapshot)
            decisions.append(ProgramStatus(program, decision.shared, tuple(r.value for r in decision.reasons)))
        consent = state.consent
        statuses.append(
            CameraStatus(
                camera=name,
                programs=tuple(decisions),
                client=state.client_id,
                consent_programs=tuple(sorted(p.value for p in consent.programs)) if consent else (),
                consent_since=consent.granted_at if consent else None,
                consent_expires=consent.expires_at if consent else None,
                consent_revoked=consent.revoked_at if consent else None,
                public_facing=state.public_facing,
                sign_plate=state.signage_plate,
            )
        )
    return statuses
