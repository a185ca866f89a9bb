"""Guarita: a Frigate NVR plugin suite bridging cameras to COP-BH and DETRO/RJ.

Covers: PB-01.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
