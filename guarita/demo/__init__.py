"""``guarita demo``: the whole thing on one machine (``run``), its centres' story (``story``), the
evidence request (``evidence``) and the discovered ONVIF camera (``onboarding``).

Covers: PB-01, PB-05.
"""

__all__: list[str] = []
