"""Stand-ins for systems that cannot run here (Frigate itself); used by tests and ``guarita demo``.

Covers: PB-01, PB-05.
"""

# The stand-ins are imported from their modules (guarita.standin.mosquitto, ...).
__all__: list[str] = []
