"""The demo's evidence story: a police request for bus footage, recorded, approved, exported and verified.

Once the bus's DVR has synced into the archive, an operator (ana) records a police
authority's request for two minutes of camera 1, a second person (bruno) approves it, and the
bundle is exported into the demo's work folder and verified against the provider's public
key, with the library functions the ``guarita evidence`` commands use.

Covers: BH-07, BH-08, DT-04, DT-06.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TextIO

from guarita.config import GuaritaConfig
from guarita.local_time import local_zone
from guarita.retention._signing import public_pem, signing_key
from guarita.retention.bundle import verify_bundle
from guarita.retention.evidence import RequestType, approve_request, record_request
from guarita.retention.evidence_export import export_request
from guarita.retention.footage import FootageSource, RetentionError, TimeWindow
from guarita.store import Store

__all__ = ["show_evidence_request"]

_REF = "IP 123/2026"


def _offset(moment: dt.datetime) -> str:
    """``moment``'s UTC offset as ``-03:00``: every time shown to a person carries its zone."""
    offset = moment.strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


async def show_evidence_request(
    store: Store, config: GuaritaConfig, vehicle: str, window_start: dt.datetime, out: TextIO
) -> None:
    """Request, approve, export and verify camera 1 of ``vehicle`` for two minutes from ``window_start``.

    ``window_start`` is naive, on the DVR's clock (the fleet's time zone). A step that fails is
    printed, not raised: the rest of the demo goes on.
    """
    zone = local_zone(config.fleet.timezone) if config.fleet is not None else local_zone()
    start = window_start.replace(tzinfo=zone)
    window = TimeWindow(start.timestamp(), (start + dt.timedelta(minutes=2)).timestamp())
    folder = config.storage.data_dir.parent / "evidence-request-1"

    def say(text: str) -> None:
        print(f"  [evidence] {text}", file=out, flush=True)

    try:
        now = dt.datetime.now(dt.UTC)
        request = record_request(store, request_type=RequestType.POLICE_AUTHORITY, ref=_REF,
                                 requester="Delegacia de Polícia Civil (inquérito)",
                                 sources=[FootageSource(vehicle=vehicle, camera_number=1)], window=window,
                                 by="ana", at=now.timestamp())
        say(f"request {request.id} recorded by ana ({request.type.value}, ref {_REF}): bus {vehicle} camera 1, "
            f"{start:%H:%M:%S} {_offset(start)} + 2 min")
        approve_request(store, request.id, by="bruno", at=now.timestamp())
        say(f"request {request.id} approved by bruno")
        result = await export_request(store, config, request.id, folder, by="bruno", now=dt.datetime.now(dt.UTC))
        say(f"request {request.id} exported: {result.files} clips, manifest signed ({folder})")
    except RetentionError as exc:
        say(f"failed: {exc}")
        return
    check = verify_bundle(Path(folder), public_pem(signing_key(config.storage.data_dir)), "the provider's key")
    if check.ok:
        say(f"request {request.id} verify: OK ({check.files_ok} files, signature valid)")
    else:
        say(f"request {request.id} verify: FAILED ({'; '.join(check.problems)})")
