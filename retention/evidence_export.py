"""Exporting an approved evidence request: masked clips, a signed manifest, and a hold on the window.

Clips come from the DETRO archive (a vehicle's DVR cameras) and from Frigate (a camera under
``cameras``). Each archive file is checked against the SHA-256 its index recorded when it
arrived; a Frigate camera's footage is a Frigate export of the window
(:mod:`guarita.retention.frigate_export`: reused from a hold when one covers the window, else
asked for), downloaded before anything is written. When Frigate cannot export it (unreachable,
or its own retention already deleted the recordings) and the cloud copy is configured, the
camera's cloud objects stand in (:mod:`guarita.retention.cloud_export`), each checked against
its recorded SHA-256; the manifest entry then says ``source: cloud`` and lists the keys.
Every clip is copied, or re-encoded with the camera's ``privacy_masks`` burned in (ffmpeg)
when the config gives it any. The export places a legal hold on the window of every source
(with the Frigate export id for a Frigate camera), adds an ``export`` step to the chain of
custody (naming the Frigate exports and the cloud objects), and writes ``manifest.json``
(request, cameras, window, per-file SHA-256 and duration, Guarita version, chain of custody)
signed with the provider's Ed25519 key. A Frigate clip is cut to the request's exact window
(Frigate's exports run past it at key frames); its manifest entry gives that ``window``, the
clip's ``duration_s``, and the export as Frigate made it (file, SHA-256, duration,
``cut_to_window``).

Covers: BH-06, BH-07, BH-08, BH-11, DT-04, DT-06.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg  # type: ignore[import-untyped]

from guarita import __version__, audit
from guarita.adapters.dvr.archive import segment_path
from guarita.config import GuaritaConfig
from guarita.frigate import FrigateClient
from guarita.privacy_mask import mask_clip
from guarita.retention._s3 import S3Access
from guarita.retention._signing import fingerprint, signing_key
from guarita.retention.bundle import file_sha256, write_bundle
from guarita.retention.cloud_export import CloudClip, fetch_cloud_clip
from guarita.retention.evidence import EvidenceError, EvidenceRequest, add_custody, get_request
from guarita.retention.footage import FootageSource, iso
from guarita.retention.frigate_export import FootageAsk, FrigateClip, fetch_frigate_clip
from guarita.retention.hold_exports import ExportState, HoldExport
from guarita.retention.holds import insert_hold
from guarita.store import Store

__all__ = ["ExportResult", "camera_clip", "export_request"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Segment:
    vehicle: str
    camera: int
    name: str
    start: float
    duration: float
    sha256: str


@dataclass(frozen=True)
class ExportResult:
    """Where the bundle went and what it holds."""

    folder: Path
    files: int
    bytes: int
    holds: tuple[int, ...]
    manifest_sha256: str


def _masks(config: GuaritaConfig, source: FootageSource) -> list[str]:
    if source.camera is not None:
        camera = config.cameras.get(source.camera)
        return list(camera.privacy_masks) if camera is not None else []
    vehicle = source.vehicle or ""
    dvr = config.fleet.vehicles[vehicle].dvr if config.fleet and vehicle in config.fleet.vehicles else None
    return list(dvr.privacy_masks.get(source.camera_number or 0, [])) if dvr is not None else []


def _segments(store: Store, request: EvidenceRequest) -> list[_Segment]:
    found: list[_Segment] = []
    for source in request.sources:
        if source.camera is not None:
            continue
        rows = store.db.execute(
            "SELECT vehicle, camera, name, start_utc, duration_s, sha256 FROM dvr_segments WHERE vehicle = ? "
            "AND (? IS NULL OR camera = ?) AND start_utc < ? AND start_utc + duration_s > ? ORDER BY camera, start_utc",
            (source.vehicle, source.camera_number, source.camera_number, request.window.end, request.window.start),
        ).fetchall()
        found += [_Segment(v, int(c), n, float(s), float(d), h) for v, c, n, s, d, h in rows]
        if not any(segment.vehicle == source.vehicle for segment in found):
            raise EvidenceError(f"the archive holds no footage of request {request.id}'s {source.label} in "
                                f"{iso(request.window.start)} → {iso(request.window.end)}")
    return found


def _duration(path: Path) -> float:
    return round(float(ffmpeg.probe(str(path), v="error")["format"]["duration"]), 3)


async def _write_clip(source: Path, folder: Path, relative: str, masks: list[str]) -> dict[str, Any]:
    """Copy ``source`` (or mask it) to ``folder/relative``; the manifest fields every clip has."""
    dest = folder / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    if masks:
        await mask_clip(source, dest, masks)
    else:
        await asyncio.to_thread(shutil.copyfile, source, dest)
    return {"path": relative, "sha256": await asyncio.to_thread(file_sha256, dest), "size": dest.stat().st_size,
            "duration_s": await asyncio.to_thread(_duration, dest), "privacy_masks": masks}


async def _export_file(config: GuaritaConfig, segment: _Segment, folder: Path) -> dict[str, Any]:
    source = segment_path(config.storage.data_dir, segment.vehicle, segment.camera, segment.name)
    if await asyncio.to_thread(file_sha256, source) != segment.sha256:
        raise EvidenceError(f"archive file {segment.vehicle}/{segment.camera}/{segment.name} no longer matches the "
                            "SHA-256 recorded when it arrived; it is not exported")
    relative = f"clips/{segment.vehicle}/camera{segment.camera}/{segment.name}"
    masks = _masks(config, FootageSource(vehicle=segment.vehicle, camera_number=segment.camera))
    entry = await _write_clip(source, folder, relative, masks)
    return {**entry, "vehicle": segment.vehicle, "camera_number": segment.camera, "start": iso(segment.start),
            "source": "archive", "archive_file": segment.name, "archive_sha256": segment.sha256}


async def _camera_file(config: GuaritaConfig, clip: FrigateClip | CloudClip, request: EvidenceRequest,
                       folder: Path) -> dict[str, Any]:
    masks = _masks(config, FootageSource(camera=clip.camera))
    if isinstance(clip, CloudClip):
        name = f"cloud-{dt.datetime.fromtimestamp(request.window.start, dt.UTC):%Y%m%dT%H%M%SZ}"
        entry = await _write_clip(clip.path, folder, f"clips/{clip.camera}/{name}.mp4", masks)
        return {**entry, "camera": clip.camera, "start": iso(request.window.start), "source": "cloud",
                "cloud_objects": [{"key": item.key, "sha256": item.sha256} for item in clip.objects]}
    entry = await _write_clip(clip.path, folder, f"clips/{clip.camera}/{clip.export_id}.mp4", masks)
    return {**entry, "camera": clip.camera, "start": iso(request.window.start), "window": request.window.as_json(),
            "source": "frigate_export", "frigate_export_id": clip.export_id, "frigate_export_file": clip.video_path,
            "frigate_export_sha256": clip.export_sha256, "frigate_export_duration_s": clip.export_seconds,
            "cut_to_window": clip.cut, "reused_from_hold": clip.reused_hold}


def _cameras(config: GuaritaConfig, sources: tuple[FootageSource, ...]) -> list[dict[str, Any]]:
    cameras = []
    for source in sources:
        entry: dict[str, Any] = {**source.as_json(), "label": source.label}
        if source.camera is not None or source.camera_number is not None:
            entry["privacy_masks"] = _masks(config, source)
        cameras.append(entry)
    return cameras


async def camera_clip(store: Store, frigate: FrigateClient | None, cloud: S3Access | None, request: FootageAsk,
                      camera: str, scratch: Path, *, exact: bool = True,
                      name: str | None = None) -> FrigateClip | CloudClip:
    """Frigate's export first; the cloud copy when Frigate cannot export the window.

    Also a playback's (``exact=False``: cuts are stream copies; ``name``: the Frigate export's name).

    Raises:
        EvidenceError: neither Frigate nor the cloud copy can give the window.
    """
    if frigate is None and cloud is None:
        raise EvidenceError(f"request {request.id} names Frigate camera {camera}, but neither a Frigate client "
                            "nor the cloud copy was given to export it")
    reason = "no Frigate client was given"
    if frigate is not None:
        try:
            return await fetch_frigate_clip(store, frigate, request, camera, scratch, exact=exact, name=name)
        except EvidenceError as exc:
            if cloud is None:
                raise
            reason = str(exc)
    assert cloud is not None
    try:
        clip = await fetch_cloud_clip(store, cloud, request, camera, scratch, exact=exact)
    except EvidenceError as exc:
        raise EvidenceError(f"{reason}; and the cloud copy cannot stand in: {exc}") from exc
    log.info("camera %s of request %s taken from the cloud copy (%s)", camera, request.id, reason)
    return clip


def _export_state(clip: FrigateClip | None, at: float) -> HoldExport | None:
    """The export state of the hold on a camera whose Frigate export this bundle fetched: done."""
    if clip is None:
        return None
    return HoldExport(ExportState.DONE, at, 1, clip.export_id, file=clip.video_path, duration_s=clip.export_seconds,
                      sha256=clip.export_sha256)


async def export_request(
    store: Store, config: GuaritaConfig, request_id: int, folder: Path, *, by: str, now: dt.datetime,
    frigate: FrigateClient | None = None, cloud: S3Access | None = None,
) -> ExportResult:
    """Write the bundle of an approved request into ``folder`` (new or empty).

    A Frigate camera in the request needs ``frigate`` or ``cloud`` (the cloud copy's bucket):
    Frigate's export is tried first, the cloud copy when Frigate cannot export the window.

    Raises:
        EvidenceError: not approved, no footage, a folder that is not empty, an archive file
            that does not match its index, or neither Frigate nor the cloud copy able to give a
            camera's window (a gap in the cloud copy or a changed object is named).
    """
    request = get_request(store.db, request_id)
    if request.approved_by is None:
        raise EvidenceError(f"request {request_id} is not approved yet: a second person runs "
                            f"`guarita evidence approve {request_id} --by USER`")
    if folder.exists() and any(folder.iterdir()):
        raise EvidenceError(f"{folder} is not empty; export into a new folder")
    segments = _segments(store, request)
    with tempfile.TemporaryDirectory(prefix="guarita-evidence-") as scratch:
        cameras = [source.camera for source in request.sources if source.camera is not None]
        clips = [await camera_clip(store, frigate, cloud, request, camera, Path(scratch)) for camera in cameras]
        folder.mkdir(parents=True, exist_ok=True)
        files = [await _export_file(config, segment, folder) for segment in segments]
        files += [await _camera_file(config, clip, request, folder) for clip in clips]
    exports = {clip.camera: clip.export_id for clip in clips if isinstance(clip, FrigateClip)}
    fetched = {clip.camera: clip for clip in clips if isinstance(clip, FrigateClip)}
    from_cloud = {clip.camera: [item.key for item in clip.objects] for clip in clips if isinstance(clip, CloudClip)}
    at = now.timestamp()
    with store.transaction() as db:
        holds = tuple(
            insert_hold(db, source, request.window, ref=f"evidence {request.id}: {request.ref}", by=by, at=at,
                        evidence_request=request.id, export_id=exports.get(source.camera or ""),
                        export=_export_state(fetched.get(source.camera or ""), at))
            for source in request.sources
        )
        add_custody(db, request.id, "export", by=by, at=at, details={
            "files": len(files), "holds": list(holds),
            "sha256": sorted(entry["sha256"] for entry in files),
            **({"frigate_exports": exports} if exports else {}),
            **({"cloud_objects": from_cloud} if from_cloud else {}),
        })
    key = signing_key(config.storage.data_dir)
    exported = get_request(store.db, request.id)
    manifest = {
        "format": "guarita-evidence/1", "guarita_version": __version__,
        "provider": {"id": config.provider.id, "name": config.provider.name},
        "request": {k: v for k, v in exported.as_json().items() if k not in ("custody", "sources", "window")},
        "cameras": _cameras(config, request.sources), "window": request.window.as_json(),
        "files": files, "holds": list(holds), "exported_at": iso(at), "exported_by": by,
        "custody": [step.as_json() for step in exported.custody],
        "signature": {"algorithm": "Ed25519", "file": "manifest.sig", "public_key_sha256": fingerprint(key.public_key())},
    }
    data = write_bundle(folder, manifest, key)
    digest = hashlib.sha256(data).hexdigest()
    with store.transaction() as db:
        audit.append(db, at=at, actor=by, action="evidence.manifest", subject=f"evidence:{request.id}",
                     details={"manifest_sha256": digest, "key_sha256": fingerprint(key.public_key())})
    log.info("evidence request %d exported: %d files into %s", request.id, len(files), folder)
    return ExportResult(folder, len(files), sum(int(f["size"]) for f in files), holds, digest)
