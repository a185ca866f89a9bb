"""`guarita demo`: events flow to both centres; the private and unsigned cameras are held back."""

from __future__ import annotations

import io
import re

import pytest

from guarita.demo import run_demo


# covers PB-01, PB-05, BH-03, BH-04, BH-07, BH-10, DT-02
@pytest.mark.slow
async def test_demo_shows_both_centres_and_what_was_held_back() -> None:
    out = io.StringIO()
    assert await run_demo(duration_s=6, out=out, discover_camera=False) == 0
    text = out.getvalue()
    assert "[COP-BH] copbh/v1/acme/status = online" in text
    assert "[DETRO] detro/v1/acme/status = online" in text
    rows = {m.group(1): m.groups()[1:] for m in re.finditer(r"^  (\w+)\s+(\d+)\s+(\d+)\s+(\d+)  (.*)$", text, re.M)}
    published, copbh, detro, why = rows["backyard"]
    assert copbh == detro == "0" and "never leaves" in why
    assert rows["street_corner"][1] == "0" and "no_signage" in rows["street_corner"][3]
    assert not re.search(r"\[(COP-BH|DETRO)\] (backyard|street_corner)", text), "held-back cameras never reach a centre"
    assert int(rows["bus_10234_front"][2]) + int(rows["bus_10234_interior"][2]) > 0
    assert "outbox depth {'cop_bh': 0, 'detro': 0}" in text


# covers PB-02, PB-06, DT-06, DT-10, DT-11, BH-08, DT-04
@pytest.mark.slow
async def test_demo_shows_a_bus_arriving_syncing_and_its_report_at_detro_and_a_discovered_camera() -> None:
    out = io.StringIO()
    assert await run_demo(duration_s=8, out=out) == 0
    lines = out.getvalue().splitlines()

    def at(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    arrived, planned = at("[garage] bus 10234 pulled in"), at("[garage] bus 10234: DVR answers; 9 files to fetch")
    done, report = at("[garage] bus 10234: 100%"), at("[DETRO] DVR report, bus 10234 (DVR DVR-2009-000123): ok")
    assert arrived < planned < done < report
    assert "8 files" in lines[report] and "camera 2 11:03–11:04 UTC" in lines[report]
    assert "quarantined: 2/20261120081000.mp4 (duration 30.0 s is outside 1 to 5 minutes" in lines[report]
    assert "bus 10234: 8 segments archived" in out.getvalue()
    recorded = at("  [evidence] request 1 recorded by ana (police_authority, ref IP 123/2026)")
    approved, exported = at("  [evidence] request 1 approved by bruno"), at("[evidence] request 1 exported: 3 clips")
    verified = at("  [evidence] request 1 verify: OK (3 files, signature valid)")
    assert done < recorded < approved < exported < verified and "manifest signed" in lines[exported]
    text = out.getvalue()
    assert "[onboarding] onboarding: WS-Discovery found 1 ONVIF camera(s)" in text
    assert "serial PY-DEMO-0001" in text and "{FRIGATE_PORTARIA_RTSP_PASSWORD}" in text


# covers BH-03, BH-04, PB-03
@pytest.mark.slow
async def test_demo_shows_a_camera_shared_when_its_sign_is_recorded_and_withdrawn_on_revocation() -> None:
    out = io.StringIO()
    assert await run_demo(duration_s=8, out=out, discover_camera=False) == 0
    lines = out.getvalue().splitlines()

    def at(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    sign, published = at("[registry] street_front: sign"), at("catalogue: street_front published")
    revoked, withdrawn = at("[registry] street_front: consent revoked"), at("catalogue: street_front withdrawn")
    assert at("[registry] street_front: consent granted") < sign < published < revoked < withdrawn
    shared_events = [i for i, line in enumerate(lines) if line.startswith("  [COP-BH] street_front ")]
    assert all(published < i < withdrawn for i in shared_events), "events only while shared"
    assert "street_front             " in out.getvalue() and "cop_bh: consent_revoked" in out.getvalue()
