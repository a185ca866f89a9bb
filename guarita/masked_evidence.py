"""The image a public-facing attestation records, with the camera's privacy masks blanked.

The given file, or Frigate's ``latest.jpg``; the same for the CLI (``guarita cameras attest``,
``guarita cameras snapshot --masked``) and the API. Kept apart from ``guarita.cli.cameras_support``
so the API does not load the ONVIF stack (zeep) it never uses.

Covers: PB-02, BH-02, BH-07.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiohttp

from guarita.config import GuaritaConfig
from guarita.errors import GuaritaError
from guarita.frigate_check import frigate_client
from guarita.privacy_mask import mask_jpeg

__all__ = ["CameraCommandError", "masked_evidence"]


class CameraCommandError(GuaritaError):
    """A ``guarita cameras`` command cannot go on; the message says what to give or fix."""


async def masked_evidence(config: GuaritaConfig, camera: str, evidence: Path | None, workdir: Path) -> Path:
    """The attestation's image with ``camera``'s privacy masks blanked, written in ``workdir``.

    ``evidence`` None takes Frigate's ``latest.jpg``. A camera without masks keeps a given file as is.

    Raises:
        CameraCommandError: the camera has masks but the evidence cannot be read or is not an image.
        FrigateError: Frigate could not give the snapshot.
    """
    masks: Sequence[str] = config.cameras[camera].privacy_masks
    if evidence is not None and not masks:
        return evidence
    if evidence is None:
        async with aiohttp.ClientSession() as session:
            image = await frigate_client(config, session).latest_jpg(camera)
    else:
        try:
            image = evidence.read_bytes()
        except OSError as exc:
            raise CameraCommandError(f"cannot read the evidence file {evidence}: {exc.strerror}") from exc
    try:
        masked = mask_jpeg(image, masks)
    except GuaritaError as exc:
        raise CameraCommandError(f"cannot blank {camera}'s privacy masks on the evidence: {exc}") from None
    out = workdir / f"{camera}-masked.jpg"
    out.write_bytes(masked)
    return out
