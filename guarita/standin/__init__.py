"""Stand-ins for systems that cannot run here (Frigate itself); used by tests and ``guarita demo``."""

# The stand-ins are imported from their modules (guarita.standin.mosquitto, ...).
__all__: list[str] = []
