"""The process behind ``DvrFtpServer``: a real pyftpdlib FTP server over a DVR tree.

Run as ``python -m guarita.standin._ftp_runner --root R --workdir W --user U`` with the
password in ``W/password``. It binds a free 127.0.0.1 port and writes it to ``W/port``.
Every file byte sent on a data connection is appended to ``W/stats`` (one count a line).
When ``W/cut`` holds a number N, the next ``RETR`` sends N bytes, then its data connection
is closed and the client gets ``426 Transfer aborted`` (the file is then deleted: one cut
per request). Like ProFTPD, MLSD lists a symlink as ``type=OS.unix=slink:<target>``
(pyftpdlib would report its target's type). ``--no-mlsd`` removes MLSD/MLST, like the
busybox and vsftpd servers many DVRs run, so clients must fall back to ``LIST``.

Hostile modes: a ``RETR`` of a file whose name is a line of ``W/endless`` sends the file,
then zeros without end; while ``W/endless_listing`` exists, every MLSD and LIST goes on
without end.

Covers: PB-06.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["main"]

_ZEROS = bytes(64 * 1024)


class _EndlessProducer:
    """A pyftpdlib producer: ``head``, then zeros for ever."""

    def __init__(self, head: bytes) -> None:
        self._head = head

    def more(self) -> bytes:
        head, self._head = self._head, b""
        return head or _ZEROS


def _endless_lines() -> Iterator[bytes]:
    index = 0
    while True:  # a thousand lines a chunk: pyftpdlib sends one chunk per call, and a line each is slow
        yield b"".join(
            f"type=file;size=1;modify=20261120110000; {index + n:012d}.mp4\r\n".encode() for n in range(1000)
        )
        index += 1000


def _names_in(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except FileNotFoundError:
        return set()


def _handler_class(workdir: Path, user: str, password: str, root: Path, mlsd: bool) -> Any:
    """pyftpdlib's FTPHandler set up as the DVR.

    pyftpdlib is imported here, in the runner process only: it pulls in the deprecated
    ``asyncore``, which must not warn where tests merely import this module.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pyftpdlib.authorizers import DummyAuthorizer  # type: ignore[import-untyped]
        from pyftpdlib.filesystems import AbstractedFS  # type: ignore[import-untyped]
        from pyftpdlib.handlers import DTPHandler, FTPHandler  # type: ignore[import-untyped]
        from pyftpdlib.handlers.ftp.producers import BufferedIteratorProducer  # type: ignore[import-untyped]

    class _LinkAwareFS(AbstractedFS):  # type: ignore[misc]
        """Lists symlinks in MLSD as links (ProFTPD's fact) instead of their targets' type."""

        def format_mlsx(
            self, basedir: str, listing: list[str], perms: str, facts: list[str], ignore_err: bool = True
        ) -> Iterator[bytes]:
            if (workdir / "endless_listing").exists():
                yield from _endless_lines()
            for basename in listing:
                path = os.path.join(basedir, basename)
                if os.path.islink(path):
                    modify = time.strftime("%Y%m%d%H%M%S", time.gmtime(os.lstat(path).st_mtime))
                    line = f"modify={modify};type=OS.unix=slink:{os.readlink(path)}; {basename}\r\n"
                    yield line.encode(self.cmd_channel.encoding, self.cmd_channel.unicode_errors)
                else:
                    yield from super().format_mlsx(basedir, [basename], perms, facts, ignore_err)

    class _CountingDTPHandler(DTPHandler):  # type: ignore[misc]
        """Counts file bytes sent and, when asked, cuts one RETR after N bytes."""

        def __init__(self, sock: Any, cmd_channel: Any) -> None:
            super().__init__(sock, cmd_channel)
            self._budget: int | None = None
            self._budget_read = False

        def _take_cut(self) -> int | None:
            cut_file = workdir / "cut"
            try:
                value = int(cut_file.read_text().strip())
            except (FileNotFoundError, ValueError):
                return None
            cut_file.unlink()
            return value

        def send(self, data: bytes) -> int:
            if self.file_obj is None:  # a listing, not a file
                return int(super().send(data))
            if not self._budget_read:
                self._budget_read, self._budget = True, self._take_cut()
            if self._budget is not None:
                data = data[: max(self._budget - self.tot_bytes_sent, 0)]
            sent = int(super().send(data)) if data else 0
            if sent:
                with (workdir / "stats").open("a") as stats:
                    stats.write(f"{sent}\n")
            if self._budget is not None and self.tot_bytes_sent >= self._budget:
                self.handle_close()  # more remains to send: pyftpdlib answers 426 Transfer aborted
            return sent

    class Handler(FTPHandler):  # type: ignore[misc]
        def ftp_RETR(self, file: str) -> str | None:
            if os.path.basename(file) not in _names_in(workdir / "endless"):
                return super().ftp_RETR(file)  # type: ignore[no-any-return]
            offset: int = getattr(self, "_restart_position", 0)  # REST, as pyftpdlib keeps it
            self._restart_position = 0
            head = Path(file).read_bytes()[offset:]
            self.push_dtp_data(_EndlessProducer(head), isproducer=True, cmd="RETR")
            return file

        def ftp_LIST(self, path: str) -> str | None:
            if not (workdir / "endless_listing").exists():
                return super().ftp_LIST(path)  # type: ignore[no-any-return]
            self.push_dtp_data(BufferedIteratorProducer(_endless_lines()), isproducer=True, cmd="LIST")
            return path

    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, str(root), perm="elr")
    Handler.authorizer = authorizer
    Handler.abstracted_fs = _LinkAwareFS
    Handler.dtp_handler = _CountingDTPHandler
    Handler.use_sendfile = False
    Handler.banner = "DVR FTP ready."
    Handler.auth_failed_timeout = 0.2  # pyftpdlib waits 3 s before answering 530; tests need not
    if not mlsd:
        Handler.proto_cmds = {k: v for k, v in FTPHandler.proto_cmds.items() if k not in ("MLSD", "MLST")}
    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--no-mlsd", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    password = (args.workdir / "password").read_text()
    handler = _handler_class(args.workdir, args.user, password, args.root, not args.no_mlsd)
    from pyftpdlib.servers import FTPServer  # type: ignore[import-untyped]

    server = FTPServer(("127.0.0.1", 0), handler)
    port_file = args.workdir / "port"
    port_file.with_suffix(".tmp").write_text(str(server.address[1]))
    port_file.with_suffix(".tmp").replace(port_file)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
