"""The periods in which a camera was shared with COP-BH, replayed from a real registry's history.

Each test records registry changes with a clock it moves by hand, then asks for the periods.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import FakeClock

from guarita.config import ProgramName
from guarita.consent.registry import Registry
from guarita.consent.share_history import SharedPeriod, inside_shared_period, shared_periods
from guarita.store import Store

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class Book:
    """A registry on a real store, with a clock the test moves and evidence files at hand."""

    def __init__(self, tmp_path: Path, *, accredited: bool = True) -> None:
        self.store = Store.open(tmp_path / "data")
        self.clock = FakeClock(T0)
        self.registry = Registry(self.store, tmp_path / "data", accredited=accredited, clock=self.clock)
        self.evidence = tmp_path / "consent.pdf"
        self.evidence.write_bytes(b"%PDF-1.7 signed consent")
        self.registry.add_client("condo-1", "Condominio Flores", by="ana")
        self.registry.add_client("shop-2", "Padaria", by="ana")

    def at(self, hours: float) -> float:
        """Move the clock to ``T0 + hours``; returns that instant in epoch seconds."""
        self.clock.now = T0 + timedelta(hours=hours)
        return self.clock.now.timestamp()

    def grant(self, camera: str = "street", client: str = "condo-1", **kwargs: object) -> None:
        self.registry.grant(camera, client_id=client, evidence=self.evidence, by="ana", **kwargs)  # type: ignore[arg-type]

    def attest(self, camera: str = "street", public_facing: bool = True) -> None:
        self.registry.attest(camera, public_facing=public_facing, evidence=self.evidence, by="ana")

    def sign(self, camera: str = "street") -> None:
        self.registry.record_signage(camera, plate="BHS-0001", photo=self.evidence, by="ana")

    def periods(self, camera: str = "street") -> tuple[SharedPeriod, ...]:
        return shared_periods(self.registry, camera)


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    made = Book(tmp_path)
    yield made
    made.store.close()


# covers BH-03, BH-06
def test_a_camera_never_consented_has_no_period(book: Book) -> None:
    book.at(1)
    book.attest()
    book.sign()
    assert book.periods() == ()
    assert book.periods("unknown") == ()


# covers BH-03, BH-04, BH-06
def test_signage_later_than_consent_opens_the_period_at_the_sign(book: Book) -> None:
    book.at(1)
    book.grant()
    book.at(2)
    book.attest()
    signed = book.at(5)
    book.sign()
    assert book.periods() == (SharedPeriod(signed, None),)


# covers BH-03, BH-06, BH-07
def test_revoke_closes_and_a_new_grant_reopens(book: Book) -> None:
    book.at(0)
    book.attest()
    book.sign()
    first = book.at(1)
    book.grant()
    revoked = book.at(3)
    book.registry.revoke("street", by="ana", reason="client withdrew by phone")
    again = book.at(6)
    book.grant()
    periods = book.periods()
    assert periods == (SharedPeriod(first, revoked), SharedPeriod(again, None))
    hour = 3600.0
    assert inside_shared_period(periods, first, first + 10)
    assert not inside_shared_period(periods, revoked - 5, revoked + 5)  # straddles the revocation
    assert not inside_shared_period(periods, revoked + hour, revoked + hour + 10)
    assert inside_shared_period(periods, again + 10 * hour, again + 10 * hour + 10)


# covers BH-03, BH-06
def test_expiry_closes_the_period_without_any_row(book: Book) -> None:
    book.at(0)
    book.attest()
    book.sign()
    granted = book.at(1)
    book.grant(expires_at=T0 + timedelta(hours=4))
    assert book.periods() == (SharedPeriod(granted, (T0 + timedelta(hours=4)).timestamp()),)


# covers BH-03, BH-06, BH-13
def test_an_owner_change_ends_the_previous_owners_consent(book: Book) -> None:
    book.at(0)
    book.attest()
    book.sign()
    granted = book.at(1)
    book.grant()
    moved = book.at(2)
    book.registry.assign("street", client_id="shop-2", by="ana")
    regranted = book.at(3)
    book.grant(client="shop-2")
    assert book.periods() == (SharedPeriod(granted, moved), SharedPeriod(regranted, None))


# covers BH-06, BH-10
def test_an_attestation_flipped_to_not_public_facing_closes_the_period(book: Book) -> None:
    book.at(0)
    book.attest()
    book.sign()
    granted = book.at(1)
    book.grant()
    flipped = book.at(2)
    book.attest(public_facing=False)
    assert book.periods() == (SharedPeriod(granted, flipped),)


# covers BH-03, BH-06
def test_a_consent_for_another_program_only_shares_nothing_with_cop_bh(book: Book) -> None:
    book.at(0)
    book.attest()
    book.sign()
    book.at(1)
    book.grant(programs=frozenset({ProgramName.DETRO}))
    assert book.periods() == ()


# covers BH-06
def test_other_cameras_rows_do_not_cut_a_period(book: Book) -> None:
    book.at(0)
    book.attest()
    book.sign()
    granted = book.at(1)
    book.grant()
    book.at(2)
    book.attest("lobby", public_facing=False)
    book.grant("lobby")
    assert book.periods() == (SharedPeriod(granted, None),)
    assert SharedPeriod(granted, None).as_json() == {"from": "2026-11-01T10:00:00+00:00", "to": None}
