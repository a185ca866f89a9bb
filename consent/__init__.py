"""Who agreed to share what: clients, consents, signage, and the share gate.

Covers: BH-02, BH-03, BH-04, BH-05, PB-03.
"""

from guarita.consent.share_gate import (
    CameraShareState,
    ConsentRecord,
    EmptyRegistry,
    RegistryUnavailable,
    RegistryView,
    ShareDecision,
    ShareReason,
    StaticRegistry,
    decide,
)

__all__ = [
    "CameraShareState",
    "ConsentRecord",
    "EmptyRegistry",
    "RegistryUnavailable",
    "RegistryView",
    "ShareDecision",
    "ShareReason",
    "StaticRegistry",
    "decide",
]
