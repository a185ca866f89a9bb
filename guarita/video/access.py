"""Whether a camera may be watched now, asked once for HTTP and for MQTT (one decision, two wire formats).

``camera_denial`` decides: the camera is unknown, outside the agency's area, or held back by
the share gate for cop_bh. To an agency (``hide``) those three are the same ``not_available``,
so an agency learns nothing about cameras outside its remit. The HTTP API maps the code to a
status and message (``guarita.web.api_views.check_view_camera``); the MQTT view requests send
it as their reply's reason code (``guarita.video.mqtt_requests``).

Covers: BH-03, BH-05, BH-09, BH-11.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from guarita.config import GuaritaConfig
from guarita.consent.share_gate import ShareReason
from guarita.video.hub import VideoHub

__all__ = ["CameraDenial", "Denial", "camera_denial", "hidden_detail"]


class CameraDenial(StrEnum):
    """Why a camera may not be watched: the MQTT reply's ``reason`` as is."""

    NOT_AVAILABLE = "not_available"  # to an agency, for any of the three below
    UNKNOWN_CAMERA = "unknown_camera"
    OUTSIDE_AREA = "outside_area"
    NOT_SHARED = "not_shared"


@dataclass(frozen=True)
class Denial:
    """A refusal: its code, and for ``not_shared`` the gate's reasons (a technician's words)."""

    code: CameraDenial
    camera: str
    agency: str | None
    reasons: tuple[ShareReason, ...] = ()

    @property
    def detail(self) -> str:
        """What the refusal says (without the HTTP's ``: no live view`` tail)."""
        if self.code is CameraDenial.UNKNOWN_CAMERA:
            return f"camera {self.camera!r} is not in the config"
        if self.code is CameraDenial.OUTSIDE_AREA:
            return f"camera {self.camera!r} is outside agency {self.agency!r}'s area"
        if self.code is CameraDenial.NOT_SHARED:
            return (f"camera {self.camera!r} is not shared with cop_bh now ("
                    + ", ".join(r.value for r in self.reasons) + ")")
        return hidden_detail(self.camera, self.agency)


def hidden_detail(camera: str, agency: str | None) -> str:
    """The one answer an agency gets for every camera it may not see (unknown, unshared, outside)."""
    return f"no camera {camera!r} is available for live view to agency {agency!r}"


def camera_denial(config: GuaritaConfig, hub: VideoHub, camera: str, agency: str | None, *,
                  hide: bool | None = None, counted: Collection[ShareReason] | None = None) -> Denial | None:
    """Why ``camera`` may not be watched now for ``agency`` (its area; None: any), or None if it may.

    ``hide``: the asker is an agency, so any refusal is ``not_available`` (default: ``agency`` is
    set). The centre may narrow a view to an agency's area and still hear the real reason.
    ``counted``: only these reasons of the gate count (a playback leaves the registry's to its window).
    """
    hidden = Denial(CameraDenial.NOT_AVAILABLE, camera, agency)
    hide = agency is not None if hide is None else hide
    if camera not in config.cameras:
        return hidden if hide else Denial(CameraDenial.UNKNOWN_CAMERA, camera, agency)
    if not hub.in_area(camera, agency):
        return hidden if hide else Denial(CameraDenial.OUTSIDE_AREA, camera, agency)
    hub.refresh()
    reasons = tuple(r for r in hub.gate_reasons(camera) if counted is None or r in counted)
    if reasons:
        return hidden if hide else Denial(CameraDenial.NOT_SHARED, camera, agency, reasons)
    return None
