"""Guarita's HTTP surface: the server (``server``: ``/healthz``, ``/metrics``), the REST API under
``/api/v1`` (``api`` and its ``api_*`` route modules) and the video routes.

Covers: PB-05, BH-07, BH-09.
"""

__all__: list[str] = []
