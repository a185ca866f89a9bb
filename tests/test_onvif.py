"""The ONVIF adapter against ipycam, a third-party virtual ONVIF camera, inside a network namespace.

ipycam multicasts on start, so it, the discovery and the ONVIF client all run in a namespace
this module creates and deletes (``ip netns exec``); nothing multicasts on the host. Wrong
password, unreachable host, a camera whose clock is two hours ahead (its process's clock is
shifted by the launcher in ``guarita.standin.onvif_camera``) and a camera whose profiles are
JPEG only are real cameras too, not mocks of the client.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from guarita.adapters._onvif_wire import parse_media2_profiles, parse_probe_matches
from guarita.adapters.onvif import MediaProfile, OnvifProbe
from guarita.standin.onvif_camera import CameraSettings, NetNamespace, VirtualOnvifCamera, netns_available
from guarita.standin.rtsp_server import make_clip

needs_netns = pytest.mark.skipif(not netns_available(), reason="network namespaces need root and iproute2")
PASSWORD = "Sup3r-s3cret-cam"
ENV = os.environ | {"CAM_PASSWORD": PASSWORD}


def other_ports(offset: int, **changes: object) -> CameraSettings:
    """Camera settings on ports shifted by ``offset`` (several cameras share one namespace)."""
    base = CameraSettings(password=PASSWORD)
    return CameraSettings(**{**base.__dict__, "onvif_port": base.onvif_port + offset,
                             "rtsp_port": base.rtsp_port + offset, "rtmp_port": base.rtmp_port + offset,
                             "web_port": base.web_port + offset, "go2rtc_api_port": base.go2rtc_api_port + offset,
                             **changes})


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "street.mp4"
    return asyncio.run(make_clip(path, width=640, height=360, fps=10, seconds=4))


@pytest.fixture(scope="module")
def netns() -> Iterator[NetNamespace]:
    if not netns_available():
        pytest.skip("network namespaces need root and iproute2")
    with NetNamespace() as namespace:
        yield namespace


@pytest.fixture(scope="module")
def camera(netns: NetNamespace, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualOnvifCamera]:
    settings = CameraSettings(password=PASSWORD, serial_number="PY-2024-0042")
    with VirtualOnvifCamera(netns.name, clip, tmp_path_factory.mktemp("cam"), settings) as started:
        yield started


def guarita_in(netns: NetNamespace, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``guarita ARGV`` inside the namespace."""
    return subprocess.run([*netns.exec_prefix(), sys.executable, "-m", "guarita.cli", *argv], capture_output=True,
                          text=True, env=ENV, timeout=90, check=False)


# covers PB-02, PB-07
@needs_netns
def test_discover_finds_the_camera_with_make_model_and_serial(netns: NetNamespace, camera: VirtualOnvifCamera) -> None:
    result = guarita_in(netns, "cameras", "discover", "--timeout", "1.5", "--source-address", "127.0.0.1",
                        "--user", "admin", "--password-env", "CAM_PASSWORD", "--json")
    assert result.returncode == 0, result.stderr
    found = {(c["host"], c["port"]): c for c in json.loads(result.stdout)}
    ours = found[("127.0.0.1", camera.settings.onvif_port)]
    assert ours["name"] == "Rua_da_Bahia_Portaria"
    assert ours["xaddrs"] == ["http://127.0.0.1:8080/onvif/device_service"]
    assert ours["endpoint"].startswith("urn:uuid:")
    assert ours["device"] == {"manufacturer": "PythonCam", "model": "VirtualCam-1", "firmware": "1.3.0",
                              "serial": "PY-2024-0042", "hardware_id": "PY-HW-01"}
    assert PASSWORD not in result.stdout + result.stderr


# covers PB-02
@needs_netns
def test_probe_reads_both_h264_profiles_and_probes_their_rtsp_streams(
        netns: NetNamespace, camera: VirtualOnvifCamera) -> None:
    result = guarita_in(netns, "cameras", "probe", "--onvif", "127.0.0.1:8080", "--user", "admin",
                        "--password-env", "CAM_PASSWORD", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    onvif = document["onvif"]
    assert onvif["device"]["serial"] == "PY-2024-0042"
    assert onvif["media"] == "media1"  # ipycam offers no Media2
    assert abs(onvif["clock_skew_s"]) < 5
    profiles = {p["token"]: p for p in onvif["profiles"]}
    assert profiles["Profile_Main"] | {"snapshot_uri": None} == {
        "token": "Profile_Main", "name": "MainStream", "media": "media1", "encoding": "H264", "width": 1280,
        "height": 720, "fps": 10.0, "bitrate_kbps": 2000, "stream_uri": "rtsp://127.0.0.1:8554/video_main",
        "snapshot_uri": None}
    assert profiles["Profile_Sub"]["stream_uri"] == "rtsp://127.0.0.1:8554/video_sub"
    assert profiles["Profile_Main"]["snapshot_uri"] == "http://127.0.0.1:8080/snapshot.jpg"
    streams = document["streams"]  # each URI probed with ffprobe by the RTSP adapter
    assert (streams["record"]["codec"], streams["record"]["width"], streams["record"]["height"]) == ("h264", 1280, 720)
    assert (streams["detect"]["codec"], streams["detect"]["width"], streams["detect"]["height"]) == ("h264", 640, 360)
    assert streams["record"]["uri"] == "rtsp://admin:***@127.0.0.1:8554/video_main"
    assert streams["record"]["first_frame_s"] > 0
    assert PASSWORD not in result.stdout + result.stderr


# covers PB-02, BH-07
@needs_netns
def test_wrong_password_and_unreachable_host_are_told_apart(netns: NetNamespace, camera: VirtualOnvifCamera) -> None:
    wrong = guarita_in(netns, "cameras", "probe", "--onvif", "127.0.0.1:8080", "--user", "admin",
                       "--password-env", "OTHER")
    assert wrong.returncode == 1 and "OTHER is not set" in wrong.stderr
    env_wrong = subprocess.run(
        [*netns.exec_prefix(), sys.executable, "-m", "guarita.cli", "cameras", "probe", "--onvif", "127.0.0.1:8080",
         "--user", "admin", "--password-env", "CAM_PASSWORD"],
        capture_output=True, text=True, env=os.environ | {"CAM_PASSWORD": "not-" + PASSWORD}, timeout=60, check=False)
    assert env_wrong.returncode == 1
    assert "the camera at 127.0.0.1:8080 refused user 'admin': check the password" in env_wrong.stderr
    assert PASSWORD not in env_wrong.stderr + env_wrong.stdout
    nobody = guarita_in(netns, "cameras", "probe", "--onvif", "127.0.0.1:8999", "--user", "admin",
                        "--password-env", "CAM_PASSWORD")
    assert nobody.returncode == 1
    assert "the camera at 127.0.0.1:8999 does not answer ONVIF" in nobody.stderr


# covers PB-02
@needs_netns
def test_a_camera_two_hours_ahead_is_reported_as_clock_skew(
        netns: NetNamespace, clip: Path, tmp_path: Path, camera: VirtualOnvifCamera) -> None:
    settings = other_ports(100)
    with VirtualOnvifCamera(netns.name, clip, tmp_path, settings, clock_skew_s=7200):
        result = guarita_in(netns, "cameras", "probe", "--onvif", "127.0.0.1:8180", "--user", "admin",
                            "--password-env", "CAM_PASSWORD")
    assert result.returncode == 1
    assert "refused the login and its clock is 2 h 0 min ahead of this computer's" in result.stderr
    assert "set the camera's date and time (NTP)" in result.stderr


# covers PB-02
@needs_netns
def test_a_camera_with_only_jpeg_profiles_is_refused(
        netns: NetNamespace, clip: Path, tmp_path: Path, camera: VirtualOnvifCamera) -> None:
    with VirtualOnvifCamera(netns.name, clip, tmp_path, other_ports(200), encoding="JPEG"):
        result = guarita_in(netns, "cameras", "probe", "--onvif", "127.0.0.1:8280", "--user", "admin",
                            "--password-env", "CAM_PASSWORD")
    assert result.returncode == 1
    assert ("has no H.264/H.265 profile (found: MainStream JPEG 1280x720, SubStream JPEG 640x360)"
            in result.stderr)


# covers PB-02
def test_probe_matches_are_read_with_and_without_the_standard_wrapper() -> None:
    standard = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:Action>'
        b'http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action></s:Header><s:Body>'
        b'<d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference>'
        b'<d:Scopes>onvif://www.onvif.org/name/Port%C3%A3o onvif://www.onvif.org/hardware/DS-2CD</d:Scopes>'
        b'<d:XAddrs>http://192.0.2.7/onvif/device_service http://[2001:db8::7]/onvif/device_service</d:XAddrs>'
        b'</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>'
    )
    [match] = parse_probe_matches(standard, "192.0.2.7")
    assert match.endpoint == "urn:uuid:1"
    assert match.xaddrs[0] == "http://192.0.2.7/onvif/device_service"
    assert "onvif://www.onvif.org/name/Portão" in match.scopes
    ipycam_style = standard.replace(b"ProbeMatches</a:Action>", b"ProbeMatch</a:Action>") \
        .replace(b"<d:ProbeMatches>", b"").replace(b"</d:ProbeMatches>", b"")
    assert parse_probe_matches(ipycam_style, "192.0.2.7") == [match]
    assert parse_probe_matches(b"not xml", "192.0.2.7") == []


# covers PB-02
def test_media2_profiles_are_read_from_a_get_profiles_response() -> None:
    # Shaped after ONVIF's ver20/media/wsdl GetProfilesResponse (tr2:MediaProfile, tt:VideoEncoder2Configuration).
    response = """<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
      xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>
      <tr2:GetProfilesResponse>
        <tr2:Profiles token="Profile_1" fixed="true"><tr2:Name>mainStream</tr2:Name><tr2:Configurations>
          <tr2:VideoSource token="VideoSource_1"><tt:Name>VideoSource_1</tt:Name></tr2:VideoSource>
          <tr2:VideoEncoder token="VideoEncoder_1" GovLength="50" Profile="Main"><tt:Name>VE1</tt:Name>
            <tt:UseCount>1</tt:UseCount><tt:Encoding>H265</tt:Encoding>
            <tt:Resolution><tt:Width>2560</tt:Width><tt:Height>1440</tt:Height></tt:Resolution>
            <tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>20</tt:FrameRateLimit>
              <tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl><tt:Quality>3</tt:Quality>
          </tr2:VideoEncoder></tr2:Configurations></tr2:Profiles>
        <tr2:Profiles token="Profile_3"><tr2:Name>audioOnly</tr2:Name><tr2:Configurations/></tr2:Profiles>
      </tr2:GetProfilesResponse></s:Body></s:Envelope>"""
    [profile] = parse_media2_profiles(ET.fromstring(response))
    assert (profile.token, profile.name, profile.encoding) == ("Profile_1", "mainStream", "H265")
    assert (profile.width, profile.height, profile.fps, profile.bitrate_kbps) == (2560, 1440, 20.0, 4096)


# covers PB-02
def test_profiles_are_classified_by_codec() -> None:
    def profile(token: str, encoding: str, uri: str | None) -> MediaProfile:
        return MediaProfile(token=token, name=token, media="media2", encoding=encoding, width=640, height=360,
                            fps=5, bitrate_kbps=None, stream_uri=uri, snapshot_uri=None)
    probe = OnvifProbe(host="192.0.2.7", port=80, device=None, interfaces=(), scopes=(),  # type: ignore[arg-type]
                       camera_time=None, clock_skew_s=None,
                       profiles=(profile("a", "JPEG", "rtsp://x/a"), profile("b", "H265", "rtsp://x/b"),
                                 profile("c", "H264", None)))
    assert [p.token for p in probe.h26x_profiles] == ["b"]
    assert [p.codec for p in probe.profiles] == ["mjpeg", "hevc", "h264"]
    assert probe.media == "media2"
