"""A bus DVR's FTP server: a real pyftpdlib server in a subprocess, serving a folder.

``DvrFtpServer(root, user=..., password=...)`` starts ``guarita.standin._ftp_runner`` on a
free 127.0.0.1 port; ``start()`` returns ``ftp://<user>@127.0.0.1:<port>/`` (the password
is given separately, as in the config). ``bytes_sent`` is the total of file bytes the
server wrote on data connections; ``cut_next_transfer(n)`` (or ``cut_after_bytes=`` at
construction) makes the next RETR stop after ``n`` bytes with ``426``. ``mlsd=False``
makes the server answer 500 to MLSD, like DVR firmware built on busybox or vsftpd.
Hostile DVRs: ``endless_body(name)`` makes every RETR of a file called ``name`` send the
file and then zeros without end; ``endless_listing()`` makes every listing go on without end.

Covers: PB-06.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["DvrFtpServer"]

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 5.0
_POLL_S = 0.02


class DvrFtpServer:
    """A pyftpdlib server over ``root`` with one user; use as ``async with``."""

    def __init__(
        self, root: Path, *, user: str, password: str, cut_after_bytes: int | None = None, mlsd: bool = True
    ) -> None:
        self.root = root.resolve()
        self.user = user
        self._password = password
        self._cut_first = cut_after_bytes
        self._mlsd = mlsd
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._final_bytes_sent = 0

    @property
    def url(self) -> str:
        """``ftp://<user>@127.0.0.1:<port>/``; valid once started."""
        return f"ftp://{self.user}@127.0.0.1:{self.port}/"

    @property
    def bytes_sent(self) -> int:
        """File bytes the server has sent on data connections so far (listings excluded)."""
        if self._workdir is None:
            return self._final_bytes_sent
        try:
            lines = (self._workdir / "stats").read_text().split()
        except FileNotFoundError:
            return 0
        return sum(int(line) for line in lines)

    def cut_next_transfer(self, after_bytes: int) -> None:
        """Make the next RETR send ``after_bytes`` bytes, then close its data connection (426)."""
        if self._workdir is None:
            raise RuntimeError("start the server first")
        (self._workdir / "cut").write_text(str(after_bytes))

    def endless_body(self, name: str) -> None:
        """Make every RETR of a file called ``name`` (in any folder) go on past its end, for ever."""
        if self._workdir is None:
            raise RuntimeError("start the server first")
        with (self._workdir / "endless").open("a") as names:
            names.write(name + "\n")

    def endless_listing(self) -> None:
        """Make every MLSD and LIST answer go on without end."""
        if self._workdir is None:
            raise RuntimeError("start the server first")
        (self._workdir / "endless_listing").touch()

    async def start(self) -> str:
        """Start the server process; return its URL once it listens."""
        workdir = Path(tempfile.mkdtemp(prefix="guarita-dvr-ftp-"))
        self._workdir = workdir
        password_file = workdir / "password"
        password_file.touch(mode=0o600)
        password_file.write_text(self._password)
        if self._cut_first is not None:
            self.cut_next_transfer(self._cut_first)
        command = [sys.executable, "-m", "guarita.standin._ftp_runner", "--root", str(self.root)]
        command += ["--workdir", str(workdir), "--user", self.user] + ([] if self._mlsd else ["--no-mlsd"])
        with (workdir / "runner.log").open("wb") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        port_file = workdir / "port"
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                log_text = (workdir / "runner.log").read_text(errors="replace")[-2000:]
                await self.stop()
                raise RuntimeError(f"the FTP stand-in did not start:\n{log_text}")
            await asyncio.sleep(_POLL_S)
        self.port = int(port_file.read_text())
        return self.url

    async def stop(self) -> None:
        """Terminate the server process and remove its work directory."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                deadline = time.monotonic() + _STOP_TIMEOUT_S
                while process.poll() is None and time.monotonic() < deadline:
                    await asyncio.sleep(_POLL_S)
                if process.poll() is None:
                    process.kill()
            process.wait()
        if self._workdir is not None:
            self._final_bytes_sent = self.bytes_sent
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
