"""Who may see what: the share gate, and provider isolation on an uplink (BH-09).

``decide`` is pure, so its tests need no broker and no store; branch coverage of
``consent/share_gate.py`` is meant to stay at 100%. The last test runs two Guaritas against
real brokers: a company's data travels only under its own provider id, which the centre's ACL
uses so that a company reaches (and its collaborators see) only its own tree.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Receiver, lifecycles, wait_for, write_config

from guarita.config import CameraConfig, ProgramName
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
from guarita.config_loader import load_config
from guarita.runtime import Runtime
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
COP, DETRO = ProgramName.COP_BH, ProgramName.DETRO

STREET = CameraConfig.model_validate({"programs": ["cop_bh"], "location": {"lat": -19.92, "lon": -43.93}})
BUS = CameraConfig.model_validate({"programs": ["detro"], "vehicle": "10234"})

CONSENT = ConsentRecord(frozenset({COP}), granted_at=NOW - timedelta(days=30))
SHARED = CameraShareState(client_id="client-1", consent=CONSENT, public_facing=True, signage_plate="BH-0001")


def registry(state: CameraShareState = SHARED, *, accredited: bool = True) -> StaticRegistry:
    return StaticRegistry(accredited=accredited, cameras={"street": state})


def gate(
    state: CameraShareState = SHARED,
    *,
    accredited: bool = True,
    camera: CameraConfig = STREET,
    program: ProgramName = COP,
    enabled: bool = True,
    now: datetime = NOW,
) -> ShareDecision:
    return decide(camera, "street", program, enabled, now, registry(state, accredited=accredited))


class UnavailableRegistry:
    """A registry whose backing store cannot be read (at the call named by ``fails``)."""

    def __init__(self, fails: str) -> None:
        self.fails = fails

    def provider_accredited(self) -> bool:
        if self.fails == "provider_accredited":
            raise RegistryUnavailable("consent database locked")
        return True

    def camera_state(self, camera: str) -> CameraShareState:
        raise RegistryUnavailable("consent database locked")


# covers BH-02, BH-03, BH-04, PB-03
def test_a_camera_with_everything_in_order_is_shared() -> None:
    assert gate() == ShareDecision(shared=True, reasons=())


# covers BH-01, BH-02, BH-03, BH-04, BH-10, PB-03
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"accredited": False}, ShareReason.PROVIDER_NOT_ACCREDITED),
        ({"state": replace(SHARED, client_id=None)}, ShareReason.NO_CLIENT),
        ({"state": replace(SHARED, consent=None)}, ShareReason.NO_CONSENT),
        ({"state": replace(SHARED, consent=replace(CONSENT, revoked_at=NOW - timedelta(days=1)))}, ShareReason.CONSENT_REVOKED),
        ({"state": replace(SHARED, consent=replace(CONSENT, expires_at=NOW - timedelta(days=1)))}, ShareReason.CONSENT_EXPIRED),
        ({"state": replace(SHARED, public_facing=False)}, ShareReason.NOT_PUBLIC_FACING),
        ({"state": replace(SHARED, signage_plate=None)}, ShareReason.NO_SIGNAGE),
        ({"enabled": False}, ShareReason.PROGRAM_NOT_ENABLED),
        ({"camera": CameraConfig.model_validate({"programs": []})}, ShareReason.PROGRAM_NOT_ENABLED),
        ({"camera": BUS}, ShareReason.PROGRAM_NOT_ENABLED),
    ],
    ids=["not_accredited", "no_client", "no_consent", "revoked", "expired", "not_public", "no_sign",
         "program_disabled", "camera_in_no_program", "camera_in_another_program"],
)
def test_each_reason_alone_blocks_sharing(change: dict[str, object], reason: ShareReason) -> None:
    decision = gate(**change)  # type: ignore[arg-type]
    assert decision == ShareDecision(shared=False, reasons=(reason,))


# covers BH-02, BH-03, BH-04, BH-07, PB-03
def test_every_reason_together_in_a_stable_order() -> None:
    nothing = CameraShareState()
    decision = gate(nothing, accredited=False, enabled=False)
    assert not decision.shared
    assert decision.reasons == (
        ShareReason.PROGRAM_NOT_ENABLED,
        ShareReason.PROVIDER_NOT_ACCREDITED,
        ShareReason.NO_CLIENT,
        ShareReason.NO_CONSENT,
        ShareReason.NOT_PUBLIC_FACING,
        ShareReason.NO_SIGNAGE,
    )


# covers BH-02, BH-03, BH-04
@pytest.mark.parametrize(
    ("state", "reasons"),
    [
        (replace(SHARED, public_facing=False, signage_plate=None), (ShareReason.NOT_PUBLIC_FACING, ShareReason.NO_SIGNAGE)),
        (replace(SHARED, client_id=None, consent=None), (ShareReason.NO_CLIENT, ShareReason.NO_CONSENT)),
        (
            replace(SHARED, consent=replace(CONSENT, revoked_at=NOW), public_facing=False),
            (ShareReason.CONSENT_REVOKED, ShareReason.NOT_PUBLIC_FACING),
        ),
    ],
    ids=["street_but_no_sign", "no_client_no_consent", "revoked_and_private"],
)
def test_reasons_combine(state: CameraShareState, reasons: tuple[ShareReason, ...]) -> None:
    assert gate(state) == ShareDecision(False, reasons)


# covers BH-03, PB-03
def test_consent_for_another_program_only_is_no_consent() -> None:
    other = replace(CONSENT, programs=frozenset({DETRO}))
    assert gate(replace(SHARED, consent=other)).reasons == (ShareReason.NO_CONSENT,)
    empty = replace(CONSENT, programs=frozenset())
    assert gate(replace(SHARED, consent=empty)).reasons == (ShareReason.NO_CONSENT,)


# covers BH-03, PB-03
@pytest.mark.parametrize(
    ("revoked_at", "shared"),
    [
        (NOW + timedelta(seconds=1), True),
        (NOW + timedelta(days=10), True),
        (NOW, False),
        (NOW - timedelta(microseconds=1), False),
        (None, True),
    ],
    ids=["revoked_in_a_second", "revoked_in_ten_days", "revoked_exactly_now", "revoked_just_before", "never_revoked"],
)
def test_a_revocation_applies_from_its_time_on(revoked_at: datetime | None, shared: bool) -> None:
    decision = gate(replace(SHARED, consent=replace(CONSENT, revoked_at=revoked_at)))
    assert decision.shared is shared
    assert decision.reasons == (() if shared else (ShareReason.CONSENT_REVOKED,))


# covers BH-03, PB-03
@pytest.mark.parametrize(
    ("expires_at", "shared"),
    [
        (NOW + timedelta(microseconds=1), True),
        (NOW, False),
        (NOW - timedelta(days=1), False),
        (None, True),
    ],
    ids=["expires_just_after", "expired_exactly_now", "expired_yesterday", "no_expiry"],
)
def test_a_consent_expires_at_its_expiry_time(expires_at: datetime | None, shared: bool) -> None:
    decision = gate(replace(SHARED, consent=replace(CONSENT, expires_at=expires_at)))
    assert decision == ShareDecision(shared, () if shared else (ShareReason.CONSENT_EXPIRED,))


# covers BH-03
def test_a_revoked_and_expired_consent_reports_the_revocation() -> None:
    both = replace(CONSENT, revoked_at=NOW - timedelta(days=2), expires_at=NOW - timedelta(days=1))
    assert gate(replace(SHARED, consent=both)).reasons == (ShareReason.CONSENT_REVOKED,)


# covers BH-03, PB-03
def test_the_same_consent_is_decided_by_the_clock() -> None:
    consent = replace(CONSENT, expires_at=NOW + timedelta(hours=1))
    state = replace(SHARED, consent=consent)
    assert gate(state, now=NOW).shared
    assert not gate(state, now=NOW + timedelta(hours=1)).shared
    assert gate(state, now=NOW + timedelta(hours=1)).reasons == (ShareReason.CONSENT_EXPIRED,)


# covers DT-14, DT-01
def test_detro_with_a_vehicle_is_shared_without_any_consent() -> None:
    for reg in (EmptyRegistry(), UnavailableRegistry("provider_accredited"), StaticRegistry(False, {})):
        assert decide(BUS, "bus", DETRO, True, NOW, reg) == ShareDecision(True, ())


# covers DT-14
def test_detro_without_a_vehicle_is_not_shared() -> None:
    no_vehicle = CameraConfig.model_validate({"programs": ["detro"]})
    assert decide(no_vehicle, "bus", DETRO, True, NOW, EmptyRegistry()) == ShareDecision(False, (ShareReason.NO_VEHICLE,))
    assert decide(no_vehicle, "bus", DETRO, False, NOW, EmptyRegistry()).reasons == (
        ShareReason.PROGRAM_NOT_ENABLED,
        ShareReason.NO_VEHICLE,
    )


# covers DT-14, PB-05
def test_detro_program_disabled_or_not_the_cameras() -> None:
    assert decide(BUS, "bus", DETRO, False, NOW, EmptyRegistry()) == ShareDecision(False, (ShareReason.PROGRAM_NOT_ENABLED,))
    street_with_vehicle = CameraConfig.model_validate({"programs": ["cop_bh"], "vehicle": "1"})
    assert decide(street_with_vehicle, "x", DETRO, True, NOW, EmptyRegistry()).reasons == (ShareReason.PROGRAM_NOT_ENABLED,)


# covers DT-14, BH-03
def test_a_camera_in_both_programs_is_decided_per_program() -> None:
    both = CameraConfig.model_validate(
        {"programs": ["cop_bh", "detro"], "vehicle": "10234", "location": {"lat": -19.9, "lon": -43.9}}
    )
    no_consent = StaticRegistry(True, {"street": replace(SHARED, consent=None)})
    assert decide(both, "street", DETRO, True, NOW, no_consent).shared
    assert decide(both, "street", COP, True, NOW, no_consent).reasons == (ShareReason.NO_CONSENT,)


# covers BH-07, BH-02, BH-03, BH-04
@pytest.mark.parametrize("fails", ["provider_accredited", "camera_state"])
def test_an_unreadable_registry_shares_nothing(fails: str) -> None:
    decision = decide(STREET, "street", COP, True, NOW, UnavailableRegistry(fails))
    assert decision == ShareDecision(False, (ShareReason.REGISTRY_UNAVAILABLE,))
    disabled = decide(STREET, "street", COP, False, NOW, UnavailableRegistry(fails))
    assert disabled == ShareDecision(False, (ShareReason.PROGRAM_NOT_ENABLED, ShareReason.REGISTRY_UNAVAILABLE))


# covers BH-07, PB-03
def test_the_empty_registry_fails_closed() -> None:
    empty = EmptyRegistry()
    assert empty.provider_accredited() is False
    assert empty.camera_state("street") == CameraShareState()
    decision = decide(STREET, "street", COP, True, NOW, empty)
    assert not decision.shared
    assert set(decision.reasons) == {
        ShareReason.PROVIDER_NOT_ACCREDITED,
        ShareReason.NO_CLIENT,
        ShareReason.NO_CONSENT,
        ShareReason.NOT_PUBLIC_FACING,
        ShareReason.NO_SIGNAGE,
    }


# covers PB-03, BH-04
def test_the_static_registry_answers_for_known_and_unknown_cameras() -> None:
    static = StaticRegistry(accredited=True, cameras={"street": SHARED})
    assert static.provider_accredited() is True
    assert static.camera_state("street") is SHARED
    assert static.camera_state("backyard") == CameraShareState()
    assert decide(STREET, "backyard", COP, True, NOW, static).reasons == (
        ShareReason.NO_CLIENT,
        ShareReason.NO_CONSENT,
        ShareReason.NOT_PUBLIC_FACING,
        ShareReason.NO_SIGNAGE,
    )


# covers PB-03
def test_an_explicit_registry_view_subclass_inherits_no_answers() -> None:
    class Bare(RegistryView):
        pass

    bare = Bare()
    assert RegistryView.provider_accredited(bare) is None
    assert RegistryView.camera_state(bare, "street") is None


# covers BH-07
def test_reasons_are_stable_strings_for_metrics() -> None:
    assert [r.value for r in ShareReason] == [
        "no_client", "no_consent", "consent_revoked", "consent_expired", "not_public_facing", "no_signage",
        "provider_not_accredited", "program_not_enabled", "no_vehicle", "registry_unavailable",
    ]
    assert str(ShareReason.NO_CONSENT) == "no_consent"


# covers PB-03
def test_records_and_decisions_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SHARED.client_id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        CONSENT.revoked_at = NOW  # type: ignore[misc]
    assert issubclass(RegistryUnavailable, Exception)


# ---- provider isolation on the uplink ------------------------------------------------------


# covers BH-09, BH-07, PB-05
async def test_a_company_reaches_only_its_own_tree_on_the_uplink(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    cameras = {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}}
    configs = {}
    for provider in ("acme", "other"):
        folder = tmp_path / provider
        folder.mkdir()
        configs[provider] = write_config(
            folder / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
            cameras=cameras, programs=["detro"],
            extra={"provider": {"id": provider, "name": provider.upper(), "kind": "bus_operator"}},
        )  # both log in as `acme`: the ACL lets that account write only under detro/v1/acme/#
    runtimes = {p: Runtime(load_config(c), reconnect_max_s=0.3, check_frigate=False) for p, c in configs.items()}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in runtimes.values()]
    acme, other = runtimes["acme"], runtimes["other"]
    try:
        async with Receiver(uplink_broker, pki) as centre:
            await wait_for(lambda: acme.uplinks[0].state.up and acme.frigate.state.up and other.frigate.state.up)
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                await frigate.publish_many(f"{frigate.prefix}/events", lifecycles(list(cameras), 3, updates=0))
            await centre.wait_until(lambda: len(centre.events()) == 6)
            await wait_for(lambda: other.outbox.depth("detro") == 6)
            await asyncio.sleep(0.5)
            topics = {m.topic for m in centre.messages}
            assert topics == {"detro/v1/acme/status", "detro/v1/acme/vehicles/10234/events"}
            assert {e["provider"] for e in centre.events()} == {"acme"}
            assert not other.uplinks[0].state.up, "the broker refused `other`'s status message"
            assert "not authori" in other.uplinks[0].state.detail.lower()
            assert other.outbox.depth("detro") == 6, "refused messages are kept, never dropped"
            assert acme.outbox.depth("detro") == 0
    finally:
        stop.set()
        for task in tasks:
            await asyncio.wait_for(task, 10)
