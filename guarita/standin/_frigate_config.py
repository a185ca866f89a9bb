"""``/api/config`` and ``/api/stats`` bodies of the Frigate stand-in, built from its cameras.

Part of a stand-in for Frigate, built from the contract (``api-config-excerpt.json``,
``api-stats-excerpt.json``, section 4 "Schema history"), not Frigate. Key order follows the
contract's excerpts; values are Frigate's defaults unless the camera list says otherwise.

Covers: PB-01, PB-05.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from guarita.standin.frigate_cameras import StandinCamera, StandinCameras

__all__ = ["StandinMqtt", "config_body", "config_set_answer", "missing_variables", "schema_version", "stats_body"]

JsonObject = dict[str, Any]

log = logging.getLogger(__name__)
"""The stand-in's "Frigate log": why a config change was refused (the HTTP answer does not say)."""

_FFMPEG = "/usr/lib/ffmpeg/7.0/bin/ffmpeg"
_GLOBAL_ARGS = ["-hide_banner", "-loglevel", "warning", "-threads", "2"]


@dataclass(frozen=True)
class StandinMqtt:
    """The ``mqtt`` section the stand-in reports (point it at the test broker)."""

    host: str = "mosquitto"
    port: int = 1883
    topic_prefix: str = "frigate"
    client_id: str = "frigate"
    user: str | None = None
    qos: int = 0

    def __post_init__(self) -> None:
        if self.qos not in (0, 1, 2):
            raise ValueError(f"mqtt qos must be 0, 1 or 2, got {self.qos}")


def schema_version(minor: int) -> str:
    """The top-level config ``version`` Frigate's migrator writes for release ``0.<minor>``."""
    return {14: "0.14", 15: "0.15-1", 16: "0.16-0"}.get(minor, "0.17-0")


def _days(days: float) -> int | float:
    """Whole days as an int, as Frigate's config dump shows them."""
    return int(days) if float(days).is_integer() else days


def _retain(days: float, mode: str) -> JsonObject:
    return {"days": _days(days), "mode": mode}


def _review_retention(days: float) -> JsonObject:
    return {"pre_capture": 5, "post_capture": 5, "retain": _retain(days, "motion")}


def _record(camera: StandinCamera | None, minor: int, days: float) -> JsonObject:
    """A ``record`` section in the keys of Frigate ``0.<minor>``."""
    record: JsonObject = {
        "enabled": camera.record_enabled if camera else True,
        "sync_recordings": False,
        "expire_interval": 60,
    }
    motion = camera.motion_days if camera is not None and camera.motion_days is not None else None
    if minor >= 17:
        record |= {"continuous": {"days": _days(days)}, "motion": {"days": _days(days if motion is None else motion)}}
    else:
        record["retain"] = _retain(days, "all") if motion is None else _retain(motion, "motion")
    if minor >= 15:
        record |= {"detections": _review_retention(days), "alerts": _review_retention(days)}
    export: JsonObject = {"timelapse_args": "-vf setpts=0.04*PTS -r 30"}
    if minor >= 17:
        export["chapters"] = "none"
    record |= {"export": export, "preview": {"quality": "medium"}}
    if minor == 14:
        record["events"] = {
            "pre_capture": 5,
            "post_capture": 5,
            "retain": {"default": float(days), "mode": "motion", "objects": {}},
        }
    if camera is not None:
        record["enabled_in_config"] = camera.record_enabled
    return record


def _snapshots(days: float) -> JsonObject:
    return {
        "enabled": True, "clean_copy": True, "timestamp": False, "bounding_box": True,
        "crop": False, "required_zones": [],
        "retain": {"default": float(days), "mode": "motion", "objects": {}}, "quality": 70,
    }


def _filter() -> JsonObject:
    return {"min_area": 0, "max_area": 24000000, "min_ratio": 0.0, "max_ratio": 24000000.0,
            "threshold": 0.7, "min_score": 0.5}


def _camera(camera: StandinCamera, minor: int, version: str) -> JsonObject:
    name = camera.name
    path = f"rtsp://127.0.0.1:8554/{name}"
    record_cmd = (
        f"{_FFMPEG} {' '.join(_GLOBAL_ARGS)} -user_agent FFmpeg Frigate/{version} "
        f"-rtsp_transport tcp -timeout 10000000 -i {path} -f segment -segment_time 10 "
        "-segment_format mp4 -reset_timestamps 1 -strftime 1 -c:v copy -c:a aac "
        f"/tmp/cache/{name}@%Y%m%d%H%M%S%z.mp4"
    )
    detect_cmd = (
        f"{_FFMPEG} {' '.join(_GLOBAL_ARGS)} -user_agent FFmpeg Frigate/{version} "
        f"-rtsp_transport tcp -timeout 10000000 -i {path} -r {camera.detect_fps} "
        f"-vf fps={camera.detect_fps},scale={camera.detect_width}:{camera.detect_height} "
        "-threads 2 -f rawvideo -pix_fmt yuv420p pipe:"
    )
    days = camera.retention_days
    return {
        "name": name,
        "enabled": True,
        "detect": {
            "enabled": True, "height": camera.detect_height, "width": camera.detect_width,
            "fps": camera.detect_fps, "min_initialized": 2, "max_disappeared": 25,
            "stationary": {"interval": 50, "threshold": 50, "max_frames": {"objects": {}},
                           "classifier": True},
            "annotation_offset": 0,
        },
        "ffmpeg": {
            "path": "default", "global_args": list(_GLOBAL_ARGS), "hwaccel_args": "preset-vaapi",
            "input_args": "preset-rtsp-generic",
            "output_args": {"detect": ["-threads", "2", "-f", "rawvideo", "-pix_fmt", "yuv420p"],
                            "record": "preset-record-generic-audio-aac"},
            "retry_interval": 10.0, "apple_compatibility": False, "gpu": 0,
            "inputs": [{"path": path, "roles": ["record", "detect"], "global_args": [],
                        "hwaccel_args": [], "input_args": "preset-rtsp-restream"}],
        },
        "live": {"streams": {name: name}, "height": 720, "quality": 8},
        "motion": {
            "enabled": True, "threshold": 30, "lightning_threshold": 0.8,
            "improve_contrast": True, "contour_area": 10, "delta_alpha": 0.2,
            "frame_alpha": 0.01, "frame_height": 100, "mask": "", "mqtt_off_delay": 30,
            "enabled_in_config": True,
        },
        "objects": {"track": ["person", "car"],
                    "filters": {"person": _filter(), "car": _filter()}, "mask": ""},
        "record": _record(camera, minor, days),
        "review": {
            "alerts": {"enabled": True, "labels": ["person", "car"], "required_zones": [],
                       "enabled_in_config": True, "cutoff_time": 40},
            "detections": {"enabled": True, "required_zones": [], "cutoff_time": 30,
                           "enabled_in_config": True},
        },
        "snapshots": _snapshots(days),
        "best_image_timeout": 60,
        "mqtt": {"enabled": True, "timestamp": True, "bounding_box": True, "crop": True,
                 "height": 270, "required_zones": [], "quality": 70},
        "onvif": {"host": "", "port": 8000, "tls_insecure": False, "ignore_time_mismatch": False},
        "type": "generic",
        "zones": {
            zone: {"filters": {}, "coordinates": "0.1,0.6,0.9,0.6,0.9,1.0,0.1,1.0",
                   "distances": [], "inertia": 3, "loitering_time": 0, "objects": [],
                   "color": [0, 205, 255]}
            for zone in camera.zones
        },
        "enabled_in_config": True,
        "ffmpeg_cmds": [{"roles": ["record"], "cmd": record_cmd},
                        {"roles": ["detect"], "cmd": detect_cmd}],
    }


def config_body(
    cameras: StandinCameras, *, minor: int, version: str, mqtt: StandinMqtt, auth: bool
) -> JsonObject:
    """The ``GET /api/config`` answer (``model_dump(exclude_none=True)`` style)."""
    global_days = max((camera.retention_days for camera in cameras), default=0)
    mqtt_section: JsonObject = {
        "enabled": True, "host": mqtt.host, "port": mqtt.port, "topic_prefix": mqtt.topic_prefix,
        "client_id": mqtt.client_id, "stats_interval": 60,
    }
    if mqtt.user is not None:
        mqtt_section["user"] = mqtt.user
    mqtt_section["qos"] = mqtt.qos
    return {
        "version": schema_version(minor),
        "safe_mode": False,
        "auth": {
            "enabled": auth, "reset_admin_password": False, "cookie_name": "frigate_token",
            "cookie_secure": False, "session_length": 86400, "refresh_time": 1800,
            "trusted_proxies": [], "hash_iterations": 600000,
            "roles": {"admin": [], "viewer": []}, "admin_first_time_login": False,
        },
        "database": {"path": "/config/frigate.db"},
        "go2rtc": {"streams": {
            camera.name: [f"rtsp://*:*@192.0.2.{10 + index}:554/Streaming/Channels/101"]
            for index, camera in enumerate(cameras)
        }},
        "mqtt": mqtt_section,
        "tls": {"enabled": auth},
        "cameras": {camera.name: _camera(camera, minor, version) for camera in cameras},
        "record": _record(None, minor, global_days),
        "snapshots": _snapshots(global_days),
        "plus": {"enabled": False},
    }


def stats_body(cameras: StandinCameras, *, version: str, now: float, started: float) -> JsonObject:
    """The ``GET /api/stats`` answer: every camera running at its detect fps."""
    camera_stats: JsonObject = {}
    cpu: JsonObject = {"frigate.full_system": {"cpu": "14.2", "mem": "38.1"}}
    for index, camera in enumerate(cameras):
        pid = 500 + 4 * index
        fps = float(camera.detect_fps)
        camera_stats[camera.name] = {
            "camera_fps": fps, "process_fps": fps, "skipped_fps": 0.0, "detection_fps": 0.4,
            "detection_enabled": True, "pid": pid, "capture_pid": pid + 1,
            "ffmpeg_pid": pid + 2, "audio_rms": 0.0, "audio_dBFS": 0.0,
        }
        cpu[str(pid + 2)] = {"cpu": "3.0", "cpu_average": "2.0", "mem": "0.4",
                             "cmdline": f"{_FFMPEG} -i rtsp://127.0.0.1:8554/{camera.name}"}
    total_fps = round(sum(float(c.detect_fps) for c in cameras), 2)

    def mount(total: float, used: float, kind: str) -> JsonObject:
        return {"total": total, "used": used, "free": round(total - used, 1), "mount_type": kind}

    return {
        "cameras": camera_stats,
        "detectors": {"cpu": {"inference_speed": 9.87, "detection_start": 0.0, "pid": 470}},
        "camera_fps": total_fps,
        "process_fps": total_fps,
        "skipped_fps": 0.0,
        "detection_fps": round(0.4 * len(camera_stats), 2),
        "embeddings": {},
        "cpu_usages": cpu,
        "gpu_usages": {"intel-vaapi": {"gpu": "3.21%", "mem": "-%"}},
        "service": {
            "uptime": int(now - started),
            "version": version,
            "latest_version": "disabled",
            "storage": {
                "/media/frigate/recordings": mount(1877792.5, 412350.2, "ext4"),
                "/media/frigate/clips": mount(1877792.5, 412350.2, "ext4"),
                "/tmp/cache": mount(1024.0, 24.6, "tmpfs"),
                "/dev/shm": mount(512.0, 71.3, "tmpfs") | {
                    "available": 462.0, "camera_frame_size": 6.4, "shm_frame_count": 50,
                    "min_shm": 178,
                },
            },
            "temperatures": {},
            "last_updated": int(now),
        },
        "processes": {"go2rtc": {"pid": 120}, "recording": {"pid": 455},
                      "review_segment": {"pid": 457}, "embeddings": {"pid": 459}},
    }


_RETENTION_KEYS = {True: ("continuous", "motion"), False: ("retain",)}  # True: 0.17 and later


def _record_problems(record: Any, where: str, minor: int) -> list[str]:
    if not isinstance(record, dict):
        return []
    obsolete = _RETENTION_KEYS[minor < 17]
    return [f"{where}.record.{key}: extra inputs are not permitted in 0.{minor}" for key in obsolete if key in record]


def _camera_problems(name: str, camera: Any, minor: int) -> list[str]:
    if not isinstance(camera, dict):
        return [f"cameras.{name}: not a mapping"]
    problems = _record_problems(camera.get("record"), f"cameras.{name}", minor)
    inputs = camera.get("ffmpeg", {}).get("inputs") if isinstance(camera.get("ffmpeg"), dict) else None
    if inputs is not None:
        roles = [role for item in inputs if isinstance(item, dict) for role in item.get("roles", [])]
        if len(roles) != len(set(roles)):
            problems.append(f"cameras.{name}.ffmpeg.inputs: each role can only be used once")
        if len(inputs) > 1 and "detect" not in roles:
            problems.append(f"cameras.{name}.ffmpeg.inputs: the detect role is required")
    return problems


_PLACEHOLDER = re.compile(r"\{(FRIGATE_[A-Za-z0-9_]*)\}")


def _env_strings(data: Any) -> list[str]:
    """The values Frigate parses as ``EnvString`` (``{FRIGATE_*}`` filled from its environment).

    Camera input paths and ONVIF login, and the MQTT login; ``go2rtc`` is free-form for
    Frigate's config (go2rtc fills its own placeholders when it starts), so it is not checked.
    """
    if not isinstance(data, dict):
        return []
    found: list[Any] = []
    mqtt = data.get("mqtt")
    if isinstance(mqtt, dict):
        found += [mqtt.get(key) for key in ("host", "user", "password")]
    cameras = data.get("cameras")
    for camera in cameras.values() if isinstance(cameras, dict) else []:
        if not isinstance(camera, dict):
            continue
        ffmpeg = camera.get("ffmpeg")
        inputs = ffmpeg.get("inputs") if isinstance(ffmpeg, dict) else None
        found += [item.get("path") for item in inputs or [] if isinstance(item, dict)]
        onvif = camera.get("onvif")
        if isinstance(onvif, dict):
            found += [onvif.get(key) for key in ("host", "user", "password")]
    return [value for value in found if isinstance(value, str)]


def missing_variables(data: Any, environment: Collection[str]) -> list[str]:
    """``{FRIGATE_*}`` placeholders in ``config_data`` whose variable ``environment`` lacks, in order."""
    missing: list[str] = []
    for value in _env_strings(data):
        for name in _PLACEHOLDER.findall(value):
            if name not in environment and name not in missing:
                missing.append(name)
    return missing


def config_set_answer(
    body: Any, has_query: bool, minor: int, environment: Collection[str] = ()
) -> tuple[int, JsonObject]:
    """Status and JSON answer of ``PUT /api/config/set`` for a parsed JSON ``body``.

    0.14 and 0.15 read only the query string (a JSON ``config_data`` is ignored, and the answer is
    still a success); from 0.16 a body without ``config_data`` and no query is refused, and a
    ``config_data`` that makes the config invalid (here: an obsolete retention key for the
    version, a role used twice, no ``detect`` role, or a ``{FRIGATE_*}`` placeholder whose
    variable is not in ``environment``, Frigate's own process environment) is rolled back
    with a 400 whose body does not say why (Frigate logs it).
    """
    success = {"success": True, "message": "Config successfully updated, restart to apply"}
    if minor < 16 or has_query:
        return 200, success
    data = body.get("config_data") if isinstance(body, dict) else None
    if not data:
        return 400, {"success": False, "message": "No configuration data provided"}
    problems = _record_problems(data.get("record"), "", minor) if isinstance(data, dict) else ["not a mapping"]
    cameras = data.get("cameras", {}) if isinstance(data, dict) else {}
    for name, camera in (cameras.items() if isinstance(cameras, dict) else []):
        problems += _camera_problems(str(name), camera, minor)
    problems += [f"KeyError: {name!r}" for name in missing_variables(data, environment)]
    if problems:
        log.error("Error parsing config: %s", "; ".join(problems))
        return 400, {"success": False, "message": "Error parsing config. Check logs for error message."}
    return 200, success
