"""Who agreed to share what: clients, consents, signage, and the share gate."""

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
