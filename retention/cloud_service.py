"""The cloud copy's two ``guarita run`` services: the uploader and the hourly sweeper.

The uploader reads Frigate's recordings folder when ``frigate.media_dir`` is set, else
Frigate's API (its own aiohttp session, closed with the service), and masks the segments of
the cameras with ``privacy_masks`` before they go up; both ask the consent
registry (in the same store) for each camera's shared periods on every pass. The sweeper
deletes, at start and hourly, with the holds as they are then, the objects outside every
shared period of their camera and those past ``retention.cloud.days``.
A store that does not answer is logged once, and again once it answers.

Covers: PB-04, BH-03, BH-06, BH-07, BH-11.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import aiohttp

from guarita.config import CloudConfig, GuaritaConfig
from guarita.consent.registry import Registry
from guarita.frigate_check import frigate_client
from guarita.link_state import wait_or_stop
from guarita.retention._s3 import S3Access
from guarita.retention.cloud import PASS_INTERVAL_S, CloudUploader, cop_bh_cameras
from guarita.retention.cloud_segments import FrigateApiSource, MediaDirSource
from guarita.retention.cloud_sweep import sweep_cloud
from guarita.retention.holds import HoldBook
from guarita.retention.policy import RetentionPolicy
from guarita.store import Store

__all__ = ["CloudService"]

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 3600.0


class CloudService:
    """Uploads and sweeps for a config with ``retention.cloud``."""

    def __init__(self, config: GuaritaConfig, cloud: CloudConfig, store: Store, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.cloud = cloud
        self.store = store
        self.clock = clock
        self.access = S3Access.for_config(cloud)
        self.registry = Registry.for_config(config, store, clock)
        self.pass_interval_s = PASS_INTERVAL_S  # between the uploader's passes

    async def run_uploads(self, stop: asyncio.Event) -> None:
        """The uploader until ``stop``."""
        cameras = cop_bh_cameras(self.config)
        masks = {name: self.config.cameras[name].privacy_masks for name in cameras
                 if self.config.cameras[name].privacy_masks}  # burnt in before upload (BH-07)
        media_dir = self.config.frigate.media_dir
        if media_dir is not None:
            await CloudUploader(self.cloud, self.config.provider.id, self.store, MediaDirSource(media_dir), self.clock,
                                cameras=cameras, registry=self.registry, access=self.access,
                                pass_interval_s=self.pass_interval_s, masks=masks).run(stop)
            return
        async with aiohttp.ClientSession() as session:
            api = FrigateApiSource(frigate_client(self.config, session), self.config.storage.data_dir / "cloud_partial",
                                   first_days=self.config.retention.cop_bh_days)
            await CloudUploader(self.cloud, self.config.provider.id, self.store, api, self.clock,
                                cameras=cameras, registry=self.registry, access=self.access,
                                pass_interval_s=self.pass_interval_s, masks=masks).run(stop)

    async def run_sweeps(self, stop: asyncio.Event) -> None:
        """A cloud sweep at start and every hour until ``stop``."""
        policy = RetentionPolicy.for_config(self.config)
        failing = False
        while not stop.is_set():
            report = await sweep_cloud(self.store, policy, self.access, now=self.clock(),
                                       holds=HoldBook.load(self.store.db), registry=self.registry)
            if report.errors and not failing:
                log.info("cloud sweep incomplete: %s", report.errors[0])
            elif not report.errors and failing:
                log.info("cloud sweep: the bucket answers again")
            failing = bool(report.errors)
            await wait_or_stop(stop, SWEEP_INTERVAL_S)

