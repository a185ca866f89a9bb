"""Bus DVR offload: list a vehicle's DVR over HTTP, FTP or a mounted card and fetch its files.

``source`` defines the ``DvrSource`` protocol; ``http_source``, ``ftp_source`` and
``folder_source`` implement it; ``sources.open_source`` picks one from ``dvr.source``.
Import the names from those modules: this package imports nothing at start-up (aioftp
and aiohttp load only when a source of their kind is opened).

Covers: PB-06, DT-10.
"""

__all__: list[str] = []
