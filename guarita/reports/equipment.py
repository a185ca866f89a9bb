"""The equipment listing a company sends DETRO: each vehicle, its DVR and numbered cameras.

The Portaria asks for the vehicle's order number, the serial number of its DVR and the
number of cameras with their numbering. The listing adds the plate, the line and what each
camera looks at, so an inspector can match a bus to its paperwork. It is read from the
config (the DVR binding of DT-14), so it is current by construction.

Covers: DT-14, DT-15.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from guarita.config import CameraRole, FleetConfig
from guarita.reports._format import order_key

__all__ = ["CSV_COLUMNS", "EquipmentRow", "equipment_csv", "equipment_json", "equipment_rows"]

CSV_COLUMNS = ("order_number", "plate", "line", "dvr_serial", "camera_count", "camera_numbers", "cameras")


@dataclass(frozen=True)
class EquipmentRow:
    """One vehicle of the listing; ``cameras`` is (number, role) in number order."""

    order_number: str
    plate: str
    line: str | None
    dvr_serial: str | None
    cameras: tuple[tuple[int, CameraRole], ...]

    @property
    def camera_count(self) -> int:
        """How many cameras the DVR records."""
        return len(self.cameras)


def equipment_rows(fleet: FleetConfig) -> list[EquipmentRow]:
    """Every vehicle of the fleet in order-number order (bus 9 before bus 10)."""
    rows = []
    for number in sorted(fleet.vehicles, key=order_key):
        vehicle = fleet.vehicles[number]
        dvr = vehicle.dvr
        cameras = tuple(sorted(dvr.roles().items())) if dvr is not None else ()
        rows.append(EquipmentRow(number, vehicle.plate, vehicle.line, dvr.serial if dvr else None, cameras))
    return rows


def equipment_csv(rows: list[EquipmentRow]) -> str:
    """CSV with a header row; ``cameras`` reads ``1=interior; 2=front``. A vehicle without DVR has no serial."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow((
            row.order_number,
            row.plate,
            row.line or "",
            row.dvr_serial or "",
            row.camera_count,
            " ".join(str(number) for number, _ in row.cameras),
            "; ".join(f"{number}={role.value}" for number, role in row.cameras),
        ))
    return out.getvalue()


def equipment_json(rows: list[EquipmentRow]) -> str:
    """A JSON array, one object per vehicle, cameras as ``[{"number": 1, "role": "interior"}, ...]``."""
    document = [
        {
            "order_number": row.order_number,
            "plate": row.plate,
            "line": row.line,
            "dvr_serial": row.dvr_serial,
            "camera_count": row.camera_count,
            "cameras": [{"number": number, "role": role.value} for number, role in row.cameras],
        }
        for row in rows
    ]
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
