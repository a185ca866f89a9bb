"""Constants of the Guarita integration: domain, config keys, defaults.

Covers: PB-08.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "guarita"
CONF_POLL_INTERVAL: Final = "poll_interval"
DEFAULT_POLL_INTERVAL_S: Final = 60
MIN_POLL_INTERVAL_S: Final = 10
MAX_POLL_INTERVAL_S: Final = 3600
REQUEST_TIMEOUT: Final = timedelta(seconds=15)

EVENT_VEHICLE_EVENT: Final = "guarita_vehicle_event"
SERVICE_ACKNOWLEDGE_EVENT: Final = "acknowledge_event"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_EVENT_ID: Final = "event_id"
ATTR_ACTION: Final = "action"
ATTR_BY: Final = "by"
ATTR_NOTE: Final = "note"

# The programs Guarita shares with, and how Home Assistant names them.
PROGRAMS: Final = ("cop_bh", "detro")

# The share gate's reasons (guarita.consent.share_gate.ShareReason), and the sensor's other states.
SHARE_REASONS: Final = (
    "no_client",
    "no_consent",
    "consent_revoked",
    "consent_expired",
    "not_public_facing",
    "no_signage",
    "provider_not_accredited",
    "program_not_enabled",
    "no_vehicle",
    "registry_unavailable",
)
SHARE_STATES: Final = ("shared", "no_programs", *SHARE_REASONS, "other")
