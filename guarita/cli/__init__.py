"""The ``guarita`` command line: ``main`` parses the command and hands it to the module that owns it.

One module per command group (``registry``, ``fleet``, ``evidence``, ``views`` …), all built on
``common`` (config loading, ``--json``, error translation). ``python -m guarita.cli`` runs it.

Covers: PB-01, PB-05.
"""

__all__: list[str] = []
