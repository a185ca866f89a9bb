"""The consent registry on a real SQLite store: history, refusals, evidence, documents, versions."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import FakeClock

from guarita.config import CameraConfig, ProgramName
from guarita.consent.registry import LiveRegistry, Registry, RegistryRefusal, normalise_document
from guarita.consent.share_gate import CameraShareState, decide
from guarita.store import DB_FILE, Store

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
REGISTRY_TABLES = ("registry_clients", "registry_ownership", "registry_consents", "registry_attestations", "registry_signage")
TABLES = (*REGISTRY_TABLES, "audit_log")
CPF = "529.982.247-25"
CPF_DIGITS = "52998224725"


@dataclass
class Setup:
    registry: Registry
    store: Store
    data_dir: Path
    clock: FakeClock
    evidence: Path
    photo: Path

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        return {t: [tuple(r) for r in self.store.db.execute(f"SELECT * FROM {t} ORDER BY seq")] for t in TABLES}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    data = tmp_path / "data"
    store = Store.open(data)
    clock = FakeClock(NOW)
    evidence = tmp_path / "authorisation.pdf"
    evidence.write_bytes(b"%PDF-1.7 signed authorisation of the client")
    photo = tmp_path / "sign.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 photo of the BH + Segura sign")
    made = Setup(Registry(store, data, accredited=True, clock=clock), store, data, clock, evidence, photo)
    try:
        yield made
    finally:
        made.store.close()


def share(s: Setup, camera: str = "street_front", client: str = "condo-1") -> None:
    if client not in {c.client_id for c in s.registry.clients()}:
        s.registry.add_client(client, "Condomínio Flores", by="ana")
    s.registry.grant(camera, client_id=client, evidence=s.evidence, by="ana")
    s.registry.attest(camera, public_facing=True, evidence=s.evidence, by="ana")
    s.registry.record_signage(camera, plate="BH-0001", photo=s.photo, by="ana")


# ---- history ------------------------------------------------------------------------


# covers PB-03, BH-03, BH-13
def test_history_is_append_only(setup: Setup) -> None:
    reg = setup.registry
    steps = [
        lambda: reg.add_client("condo-1", "Condomínio Flores", by="ana"),
        lambda: reg.add_client("condo-1", "Condomínio Flores II", by="bruno", contact="portaria"),
        lambda: reg.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana"),
        lambda: reg.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana",
                          programs=frozenset({ProgramName.COP_BH, ProgramName.DETRO})),
        lambda: reg.attest("street_front", public_facing=True, evidence=setup.evidence, by="ana"),
        lambda: reg.attest("street_front", public_facing=False, evidence=setup.evidence, by="ana"),
        lambda: reg.record_signage("street_front", plate="BH-0001", photo=setup.photo, by="ana"),
        lambda: reg.record_signage("street_front", plate="BH-0002", photo=setup.photo, by="ana"),
        lambda: reg.revoke("street_front", by="ana", reason="client asked"),
    ]
    for step in steps:
        before = setup.rows()
        setup.clock.advance(minutes=1)
        step()
        after = setup.rows()
        for table in TABLES:
            assert after[table][: len(before[table])] == before[table], f"{table}: an existing row changed"
        added = sum(len(after[t]) - len(before[t]) for t in REGISTRY_TABLES)
        assert added >= 1, "a change is a new row"
        assert len(after["audit_log"]) - len(before["audit_log"]) == added, "each new row has its audit entry"
    final = setup.rows()
    assert len(final["registry_clients"]) == 2 and len(final["registry_consents"]) == 3
    assert len(final["registry_attestations"]) == 2 and len(final["registry_signage"]) == 2


# covers PB-03, BH-02, BH-03, BH-04, BH-13
def test_snapshot_reflects_the_latest_rows(setup: Setup) -> None:
    reg = setup.registry
    assert reg.snapshot().camera_state("street_front") == CameraShareState()
    reg.add_client("condo-1", "Condomínio Flores", by="ana")
    reg.add_client("condo-1", "Condomínio das Flores", by="bruno", contact="portaria")
    (client,) = reg.clients()
    assert (client.name, client.contact, client.recorded_by) == ("Condomínio das Flores", "portaria", "bruno")

    share(setup)
    first = reg.snapshot().camera_state("street_front")
    assert first.client_id == "condo-1" and first.public_facing and first.signage_plate == "BH-0001"
    assert first.consent is not None and first.consent.granted_at == NOW and first.consent.revoked_at is None
    assert first.consent.programs == frozenset({ProgramName.COP_BH})

    setup.clock.advance(hours=1)
    reg.attest("street_front", public_facing=False, evidence=setup.evidence, by="ana")
    reg.record_signage("street_front", plate="BH-0002", photo=setup.photo, by="ana")
    reg.revoke("street_front", by="ana", reason="client asked")
    later = reg.snapshot().camera_state("street_front")
    assert not later.public_facing and later.signage_plate == "BH-0002"
    assert later.consent is not None and later.consent.revoked_at == NOW + timedelta(hours=1)

    setup.clock.advance(hours=1)
    expiry = NOW + timedelta(days=30)
    reg.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana", expires_at=expiry)
    again = reg.snapshot().camera_state("street_front").consent
    assert again is not None and again.revoked_at is None
    assert again.granted_at == NOW + timedelta(hours=2) and again.expires_at == expiry
    assert reg.snapshot().camera_state("other_cam") == CameraShareState(), "other cameras untouched"


# covers PB-03, BH-03
def test_a_consent_row_older_than_its_owner_row_reads_as_no_consent(setup: Setup) -> None:
    """A clock stepped back between the assignment and the consent: as of a moment between the
    two, the consent has no owner yet, so it does not count (and the snapshot still reads)."""
    reg = setup.registry
    reg.add_client("condo-1", "Condomínio Flores", by="ana")
    reg.assign("street_front", client_id="condo-1", by="ana")
    setup.clock.advance(hours=-2)
    reg.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana")
    between = (NOW - timedelta(hours=1)).timestamp()
    state = reg.snapshot_as_of(between, "street_front").camera_state("street_front")
    assert state.client_id is None and state.consent is None
    now = reg.snapshot().camera_state("street_front")
    assert now.client_id == "condo-1" and now.consent is not None


# ---- refusals -------------------------------------------------------------------------


# covers PB-03, BH-03
def test_revoke_without_an_active_consent_is_refused(setup: Setup) -> None:
    with pytest.raises(RegistryRefusal, match="no active consent"):
        setup.registry.revoke("street_front", by="ana", reason="never granted")
    share(setup)
    setup.registry.revoke("street_front", by="ana", reason="client asked")
    with pytest.raises(RegistryRefusal, match="no active consent"):
        setup.registry.revoke("street_front", by="ana", reason="twice")
    setup.registry.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana")
    with pytest.raises(RegistryRefusal, match="reason"):
        setup.registry.revoke("street_front", by="ana", reason="  ")


# covers PB-03, BH-03
@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1), timedelta(days=-400)])
def test_an_expiry_not_in_the_future_is_refused(setup: Setup, offset: timedelta) -> None:
    setup.registry.add_client("condo-1", "Condomínio Flores", by="ana")
    with pytest.raises(RegistryRefusal, match="not in the future"):
        setup.registry.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana", expires_at=NOW + offset)


# covers PB-03, BH-03, BH-13
def test_an_unknown_client_is_refused(setup: Setup) -> None:
    with pytest.raises(RegistryRefusal, match="no client 'ghost'"):
        setup.registry.grant("street_front", client_id="ghost", evidence=setup.evidence, by="ana")


# covers PB-03, BH-03
@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda s: s.registry.add_client("Bad Id", "X", by="ana"), "client id", id="bad-client-id"),
        pytest.param(lambda s: s.registry.add_client("condo-2", "  ", by="ana"), "needs a name", id="no-name"),
        pytest.param(lambda s: s.registry.add_client("condo-2", "X", by="ana", document="123"), "CPF", id="bad-document"),
        pytest.param(lambda s: s.registry.grant("street_front", client_id="ghost", evidence=s.evidence, by="ana"),
                     "no client", id="unknown-client"),
        pytest.param(lambda s: s.registry.grant("street_front", client_id="condo-1", evidence=s.evidence, by="ana",
                                                programs=frozenset()), "program", id="no-programs"),
        pytest.param(lambda s: s.registry.grant("street_front", client_id="condo-1", evidence=s.evidence, by="ana",
                                                expires_at=NOW - timedelta(days=1)), "not in the future",
                     id="past-expiry"),
        pytest.param(lambda s: s.registry.grant("street_front", client_id="condo-1",
                                                evidence=s.evidence.with_name("missing.pdf"), by="ana"),
                     "cannot read", id="missing-consent-evidence"),
        pytest.param(lambda s: s.registry.revoke("street_front", by="ana", reason="x"), "no active consent", id="revoke-nothing"),
        pytest.param(lambda s: s.registry.attest("street_front", public_facing=True,
                                                 evidence=s.evidence.with_name("missing.jpg"), by="ana"),
                     "cannot read", id="missing-snapshot"),
        pytest.param(lambda s: s.registry.record_signage("street_front", plate=" ", photo=s.photo, by="ana"), "plate", id="no-plate"),
    ],
)
def test_a_refusal_changes_nothing(setup: Setup, call: Any, match: str) -> None:
    setup.registry.add_client("condo-1", "Condomínio Flores", by="ana")
    before, version = setup.rows(), setup.registry.version()
    with pytest.raises(RegistryRefusal, match=match):
        call(setup)
    assert setup.rows() == before
    assert setup.registry.version() == version
    assert setup.registry.owner("street_front") is None


# covers PB-07, BH-03, BH-13
def test_only_the_cameras_owner_can_consent(setup: Setup) -> None:
    reg = setup.registry
    share(setup)  # the first consent names condo-1 as the owner
    assert reg.owner("street_front") == "condo-1"
    reg.add_client("shop-2", "Padaria", by="ana")
    with pytest.raises(RegistryRefusal, match="belongs to client 'condo-1'"):
        reg.grant("street_front", client_id="shop-2", evidence=setup.evidence, by="ana")
    reg.assign("street_front", client_id="shop-2", by="ana")  # the house was sold
    state = reg.snapshot().camera_state("street_front")
    assert state.client_id == "shop-2" and state.consent is None, "the previous owner's consent no longer counts"
    reg.grant("street_front", client_id="shop-2", evidence=setup.evidence, by="ana")
    assert reg.snapshot().camera_state("street_front").consent is not None
    with pytest.raises(RegistryRefusal, match="no client"):
        reg.assign("street_front", client_id="ghost", by="ana")


# ---- evidence ---------------------------------------------------------------------------


# covers PB-03, BH-02, BH-03, BH-04
def test_evidence_is_kept_by_sha256_under_data_dir(setup: Setup) -> None:
    setup.registry.add_client("condo-1", "Condomínio Flores", by="ana")
    snapshot = setup.evidence.with_name("view.jpg")
    snapshot.write_bytes(b"\xff\xd8 the street as the camera sees it")
    digests = [
        (setup.registry.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana"), setup.evidence),
        (setup.registry.attest("street_front", public_facing=True, evidence=snapshot, by="ana"), snapshot),
        (setup.registry.record_signage("street_front", plate="BH-0001", photo=setup.photo, by="ana"), setup.photo),
    ]
    for digest, source in digests:
        content = source.read_bytes()
        assert digest == hashlib.sha256(content).hexdigest()
        kept = setup.data_dir / "evidence" / digest[:2] / digest
        assert kept.read_bytes() == content
    assert setup.rows()["registry_consents"][0][5] == digests[0][0]
    # The same file twice is kept once; the original may then go away.
    setup.registry.grant("street_side", client_id="condo-1", evidence=setup.evidence, by="ana")
    assert len(list((setup.data_dir / "evidence").rglob("*"))) == 6  # three folders, three files
    assert not list((setup.data_dir / "evidence").rglob("*.part"))


# ---- documents (CPF/CNPJ) ---------------------------------------------------------------


# covers PB-07, BH-13
@pytest.mark.parametrize(
    ("document", "digits"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        ("111.444.777-35", "11144477735"),
        (" 123.456.789-09 ", "12345678909"),
        ("11.222.333/0001-81", "11222333000181"),
        ("11444777000161", "11444777000161"),
        ("00.000.000/0001-91", "00000000000191"),
    ],
)
def test_valid_cpf_and_cnpj_are_accepted_with_punctuation(document: str, digits: str) -> None:
    assert normalise_document(document) == digits


# covers PB-07, BH-13
@pytest.mark.parametrize(
    "document",
    [
        "529.982.247-24",  # second check digit wrong
        "529.982.247-15",  # first check digit wrong
        "11.222.333/0001-80",
        "11.222.333/0001-91",
        "111.111.111-11",  # all the same digit: valid sums, never issued
        "00.000.000/0000-00",
        "5299822472",  # 10 digits
        "529982247250",  # 12 digits
        "529.982.247-2X",
        "529,982,247-25",
        "",
        "５２９９８２２４７２５",  # full-width digits
    ],
)
def test_invalid_documents_are_refused(document: str) -> None:
    with pytest.raises(RegistryRefusal):
        normalise_document(document)


# covers PB-07, BH-07
def test_a_superscript_digit_is_refused_not_crashed() -> None:
    with pytest.raises(RegistryRefusal):
        normalise_document("52998224²25")


# covers PB-07, BH-07
def test_the_document_is_kept_only_as_a_keyed_hash(setup: Setup) -> None:
    setup.registry.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF)
    setup.registry.add_client("shop-1", "Padaria", by="ana", document="11.222.333/0001-81")
    setup.store.close()
    files = [setup.data_dir / DB_FILE, *setup.data_dir.glob(f"{DB_FILE}-*")]
    content = b"".join(f.read_bytes() for f in files)
    for raw in (CPF, CPF_DIGITS, "11222333000181", "11.222.333/0001-81"):
        assert raw.encode() not in content
    for digits in (CPF_DIGITS, "11222333000181"):
        assert hashlib.sha256(digits.encode()).hexdigest().encode() not in content, "a plain hash is guessable"
    setup.store = Store.open(setup.data_dir)  # for the fixture's close
    (keyed,) = setup.store.db.execute("SELECT document_hmac FROM registry_clients WHERE client_id = 'condo-1'").fetchone()
    assert len(keyed) == 64
    assert [c.has_document for c in Registry(setup.store, setup.data_dir, accredited=True, clock=setup.clock).clients()] == [True, True]


# covers PB-07, BH-07
def test_the_same_document_gives_the_same_keyed_hash_across_processes(setup: Setup) -> None:
    setup.registry.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF)
    other = Registry(setup.store, setup.data_dir, accredited=True, clock=setup.clock)  # as a second CLI run
    other.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF_DIGITS)
    hashes = [r[0] for r in setup.store.db.execute("SELECT document_hmac FROM registry_clients ORDER BY seq")]
    assert hashes[0] == hashes[1]


# covers PB-07, BH-07
def test_the_document_key_file_is_private(setup: Setup) -> None:
    setup.registry.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF)
    key = setup.data_dir / "keys" / "document-hmac.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) & 0o077 == 0, "no group or other access to the keys folder"
    assert len(key.read_bytes()) == 32


# covers PB-07, BH-07
def test_a_lost_document_key_is_not_silently_replaced(setup: Setup) -> None:
    setup.registry.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF)
    (setup.data_dir / "keys" / "document-hmac.key").unlink()
    with pytest.raises(RegistryRefusal, match="restore it"):
        setup.registry.add_client("shop-2", "Padaria", by="ana", document="11.222.333/0001-81")


# ---- versions and the live view -----------------------------------------------------------


# covers PB-03, BH-03
def test_every_write_bumps_the_version(setup: Setup) -> None:
    reg = setup.registry
    assert reg.version() == 0
    writes = [
        lambda: reg.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF),
        lambda: reg.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana"),
        lambda: reg.attest("street_front", public_facing=True, evidence=setup.evidence, by="ana"),
        lambda: reg.record_signage("street_front", plate="BH-0001", photo=setup.photo, by="ana", installed_on=date(2026, 6, 1)),
        lambda: reg.revoke("street_front", by="ana", reason="client asked"),
    ]
    seen = [reg.version()]
    for write in writes:
        write()
        seen.append(reg.version())
        assert reg.snapshot().version == seen[-1]
    assert all(a < b for a, b in zip(seen, seen[1:], strict=False)), seen


# covers PB-03, BH-03
def test_the_live_view_reloads_only_when_the_version_moves(setup: Setup) -> None:
    live = LiveRegistry(setup.registry)
    assert live.refresh() is True
    assert live.refresh() is False
    share(setup)
    assert live.refresh() is True
    assert live.camera_state("street_front").signage_plate == "BH-0001"
    assert live.provider_accredited()
    assert live.refresh() is False


# covers BH-02, BH-03, PB-03
def test_a_snapshot_is_the_registry_at_one_instant(setup: Setup) -> None:
    """A snapshot taken while the CLI writes must not mix states from before and after.

    The camera is never shareable at any instant: first not public-facing, then revoked, then
    public-facing but still revoked. The CLI's two writes land between the snapshot's read of
    the consents and its read of the attestations (the statement trace of the reading
    connection says when).
    """
    reg = setup.registry
    reg.add_client("condo-1", "Condomínio Flores", by="ana")
    reg.grant("street_front", client_id="condo-1", evidence=setup.evidence, by="ana")
    reg.attest("street_front", public_facing=False, evidence=setup.evidence, by="ana")
    reg.record_signage("street_front", plate="BH-0001", photo=setup.photo, by="ana")
    cli_store = Store.open(setup.data_dir)
    cli = Registry(cli_store, setup.data_dir, accredited=True, clock=setup.clock)
    written: list[str] = []

    def between_statements(sql: str) -> None:
        if "registry_attestations" in sql and not written:
            cli.revoke("street_front", by="ana", reason="client asked")
            cli.attest("street_front", public_facing=True, evidence=setup.evidence, by="ana")
            written.append(sql)

    setup.store.db.set_trace_callback(between_statements)
    try:
        snapshot = reg.snapshot()
    finally:
        setup.store.db.set_trace_callback(None)
        cli_store.close()
    assert written, "the CLI wrote while the snapshot was read"
    camera = CameraConfig.model_validate({"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}})
    decision = decide(camera, "street_front", ProgramName.COP_BH, True, NOW, snapshot)
    assert not decision.shared, f"a state that never existed: {snapshot.camera_state('street_front')}"
