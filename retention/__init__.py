"""How long video lives: policies, sweeps, legal holds, evidence requests and their signed bundles.

Covers: PB-04, BH-06, BH-08, DT-04, DT-06, DT-12.
"""

from guarita.retention.bundle import BundleCheck, verify_bundle
from guarita.retention.evidence import (
    EvidenceError,
    EvidenceRefused,
    EvidenceRequest,
    RequestType,
    approve_request,
    parse_request_type,
    record_request,
)
from guarita.retention.evidence_export import ExportResult, export_request
from guarita.retention.footage import FootageSource, RetentionError, TimeWindow
from guarita.retention.holds import HoldBook, HoldError, LegalHold, add_hold, place_hold, release_hold
from guarita.retention.policy import Decision, Footage, FootageKind, RetentionPolicy, archive_hold_check

__all__ = [
    "BundleCheck",
    "Decision",
    "EvidenceError",
    "EvidenceRefused",
    "EvidenceRequest",
    "ExportResult",
    "Footage",
    "FootageKind",
    "FootageSource",
    "HoldBook",
    "HoldError",
    "LegalHold",
    "RequestType",
    "RetentionError",
    "RetentionPolicy",
    "TimeWindow",
    "add_hold",
    "approve_request",
    "archive_hold_check",
    "export_request",
    "parse_request_type",
    "place_hold",
    "record_request",
    "release_hold",
    "verify_bundle",
]
