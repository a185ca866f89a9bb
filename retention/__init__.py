"""How long video lives: policies, sweeps, legal holds, evidence export."""

__all__: list[str] = []
