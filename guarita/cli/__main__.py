"""``python -m guarita.cli``: the same program as the ``guarita`` command.

Covers: PB-01.
"""

from guarita.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
