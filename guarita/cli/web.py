"""``guarita web hash-password``: the line to put in a console user's ``password_hash_file``.

Reads the password from the terminal (asked twice, not echoed) or, when standard input is
not a terminal, from its first line; prints ``scrypt$n$r$p$salt$hash``
(``guarita.web.passwords``). Nothing is written anywhere else.

Covers: BH-07, BH-09.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from guarita.cli.common import SubParsers
from guarita.errors import GuaritaError
from guarita.web.passwords import hash_password

__all__ = ["add_web_commands"]

MIN_PASSWORD_CHARS = 10


class PasswordRefusal(GuaritaError):
    """The password given cannot be used."""


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise PasswordRefusal("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _cmd_hash_password(args: argparse.Namespace) -> int:
    password = _read_password()
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordRefusal(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}")
    print(hash_password(password))
    return 0


def add_web_commands(sub: SubParsers) -> None:
    """Add ``guarita web hash-password``."""
    group = sub.add_parser("web", help="the web console").add_subparsers(dest="web_command", required=True)
    hashing = group.add_parser(
        "hash-password", help="print the scrypt hash line of a console password read from the terminal or stdin"
    )
    hashing.set_defaults(func=_cmd_hash_password)
