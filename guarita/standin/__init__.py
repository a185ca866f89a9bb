"""Stand-ins for systems that cannot run here (Frigate itself); used by tests and ``guarita demo``."""
