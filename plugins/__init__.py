"""Where events go out: one plugin per program (COP-BH, DETRO)."""
