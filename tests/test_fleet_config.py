"""The fleet section: what check-config accepts and what it refuses, at the key's own line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from guarita.config import CameraRole, FleetRegime
from guarita.config_loader import load_config
from test_config import problems_of

HEAD = """\
provider: {id: acme, name: ACME Ônibus, kind: bus_operator}
storage: {data_dir: data}
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "guarita.yaml"
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return path


# covers PB-06, DT-03, DT-07, DT-12, DT-14, DT-15
def test_a_valid_fleet_loads_with_its_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        fleet:
          regime: charter
          vehicles:
            "10234":
              plate: KXY1A23
              line: "100"
              dvr:
                serial: DVR-2009-000123
                source: ftp://dvr@10.20.0.23/rec/
                password_env: DVR_PASS
                cameras: {1: interior, 2: front, 3: door}
                folders: {1: cam1}
            "10235": {plate: LAB2C34}
        """)
    config = load_config(path, environ={"DVR_PASS": "pw"})
    fleet = config.fleet
    assert fleet is not None and fleet.regime is FleetRegime.CHARTER
    dvr = fleet.vehicles["10234"].dvr
    assert dvr is not None and dvr.cameras[3] is CameraRole.DOOR
    assert (dvr.folder(1), dvr.folder(2)) == ("cam1", "2")
    assert dvr.password is not None and dvr.password.get_secret_value() == "pw"
    assert fleet.vehicles["10235"].dvr is None
    assert (fleet.archive_days, fleet.timezone, fleet.telemetry.thresholds.harsh_braking_mps2) == (
        7, "America/Sao_Paulo", -2.5
    )
    assert fleet.telemetry.topic == "vehicles/{vehicle}/telemetry"


FLEET = """\
fleet:
  vehicles:
    "10234":
      plate: KXY1A23
      dvr:
"""


@pytest.mark.parametrize(
    ("dvr", "expected"),
    [
        pytest.param(
            "        serial: S1\n        source: http://10.0.0.1/dvr/\n        cameras: {1: interior}\n",
            ["10:9 fleet.vehicles.10234.dvr.cameras: a bus DVR needs at least two cameras, one `interior` and one "
             "`front` (Portaria 958/2009, DT-07); got 1: interior"],
            id="one-camera",
        ),
        pytest.param(
            "        serial: S1\n        source: http://10.0.0.1/dvr/\n        cameras: {1: interior, 2: door}\n",
            ["10:9 fleet.vehicles.10234.dvr.cameras: a bus DVR needs at least two cameras, one `interior` and one "
             "`front` (Portaria 958/2009, DT-07); got 1: interior, 2: door"],
            id="no-front-camera",
        ),
        pytest.param(
            "        serial: S1\n        source: smb://dvr/share\n        cameras: {1: interior, 2: front}\n",
            ["9:9 fleet.vehicles.10234.dvr.source: unknown DVR source 'smb://dvr/share': use http://, https://, "
             "ftp:// or file:// (a mounted folder)"],
            id="unknown-source",
        ),
        pytest.param(
            "        serial: S1\n        source: ftp://dvr:pw@10.0.0.1/\n        cameras: {1: interior, 2: front}\n",
            ["9:9 fleet.vehicles.10234.dvr.source: the DVR password must not be in the URL; use password_file or "
             "password_env"],
            id="password-in-url",
        ),
        pytest.param(
            "        serial: S1\n        source: file://mnt/sd\n        cameras: {1: interior, 2: front}\n",
            ["9:9 fleet.vehicles.10234.dvr.source: a file:// source needs an absolute local path, e.g. "
             "file:///mnt/sd"],
            id="relative-folder",
        ),
        pytest.param(
            "        serial: S1\n        source: http://10.0.0.1/\n        cameras: {1: interior, 2: front}\n"
            "        folders: {3: cam3}\n",
            ["11:19 fleet.vehicles.10234.dvr.folders[3]: camera 3 is not listed under `cameras`"],
            id="folder-of-unknown-camera",
        ),
        pytest.param(
            "        serial: S1\n        source: http://10.0.0.1/\n        cameras: {1: interior, 2: front, 3: tv}\n",
            ["10:42 fleet.vehicles.10234.dvr.cameras.3: Input should be 'interior', 'front', 'door', 'validator', "
             "'driver', 'rear' or 'other'"],
            id="unknown-role",
        ),
    ],
)
# covers DT-07, DT-10, DT-14, DT-15
def test_a_bad_dvr_is_refused_at_its_key(tmp_path: Path, dvr: str, expected: list[str]) -> None:
    path = tmp_path / "guarita.yaml"
    path.write_text(HEAD + FLEET + dvr, encoding="utf-8")
    assert problems_of(path) == expected


# covers DT-14
def test_a_dvr_serial_bound_to_two_vehicles_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        fleet:
          vehicles:
            "1":
              plate: A
              dvr: {serial: S1, source: "http://10.0.0.1/", cameras: {1: interior, 2: front}}
            "2":
              plate: B
              dvr: {serial: S1, source: "http://10.0.0.2/", cameras: {1: interior, 2: front}}
        """)
    assert problems_of(path) == [
        "10:13 fleet.vehicles.2.dvr.serial: DVR serial S1 is already bound to vehicle 1 (DT-14)"
    ]


# covers DT-12
def test_archive_days_below_two_and_unknown_time_zones_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        fleet:
          archive_days: 1
          timezone: America/Belo_Horizonte
        """)
    assert problems_of(path) == [
        "4:3 fleet.archive_days: Input should be greater than or equal to 2",
        "5:3 fleet.timezone: unknown time zone 'America/Belo_Horizonte'; use an IANA name such as "
        "America/Sao_Paulo",
    ]


# covers DT-05, DT-14
def test_a_bus_camera_must_name_a_vehicle_of_the_fleet(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cameras:
          bus_front: {vehicle: "10299"}
        fleet:
          vehicles:
            "10234": {plate: KXY1A23}
        """)
    assert problems_of(path) == ["4:15 cameras.bus_front.vehicle: vehicle '10299' is not listed under fleet.vehicles"]


# covers BH-07
def test_privacy_masks_use_frigate_relative_polygons(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cameras:
          street: {privacy_masks: ["0,0,0.5,0,0.5,0.5", "0.1,0.1,0.2"]}
        """)
    assert problems_of(path) == [
        "4:49 cameras.street.privacy_masks[1]: privacy mask '0.1,0.1,0.2' needs at least three x,y points"
    ]
    good = write(tmp_path, 'cameras:\n  street: {privacy_masks: ["0,0,0.5,0,0.5,0.5"]}\n')
    assert load_config(good).cameras["street"].privacy_masks == ["0,0,0.5,0,0.5,0.5"]
