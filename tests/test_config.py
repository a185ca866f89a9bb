"""Tests of the configuration file: models, defaults, cross-field rules, secrets and errors.

Every problem must print as ``FILE:LINE:COL key.path: message`` where LINE and COL are the
offending key's own 1-based position, so each YAML text below is written out explicitly and
its line numbers are asserted exactly. The first two lines of most files are ``HEAD``.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from guarita.config import (
    CAMERA_NAME_PATTERN,
    GuaritaConfig,
    MqttProtocol,
    ProgramName,
    ProviderKind,
)
from guarita.config_loader import (
    CONFIG_ENV,
    _model_at,
    format_key_path,
    load_config,
    resolve_config_path,
)
from guarita.standin.tls import TestPki
from guarita.errors import ConfigError, ConfigProblem, GuaritaError
from guarita._yaml_marks import Mark, load_marked

# Lines 1 and 2 of most test files; the body a test appends starts on line 3.
HEAD = """\
provider: {id: acme, name: "ACME Segurança", kind: security_company}
storage: {data_dir: data}
"""

SECRET = "s3cr3t-Pa55-do-not-leak"


def write_config(directory: Path, body: str = "", *, head: str = HEAD, name: str = "guarita.yaml") -> Path:
    """Write ``head`` + dedented ``body`` as the config file and return its path."""
    path = directory / name
    path.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return path


def touch(path: Path, text: str = "placeholder\n") -> Path:
    """Create ``path`` (and its folders) so the loader's file checks pass."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def real_pem(path: Path, source: Path) -> Path:
    """A real PEM file at ``path`` (the loader loads CA certificates and key pairs)."""
    return touch(path, source.read_text(encoding="utf-8"))


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    """The problems ``load_config`` reports, each as ``LINE:COL key.path: message``."""
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={} if environ is None else environ)
    lines = [str(problem) for problem in info.value.problems]
    assert str(info.value) == "\n".join(lines)
    prefix = f"{path}:"
    assert all(line.startswith(prefix) for line in lines), lines
    assert all("\n" not in line for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


# --- a valid file ------------------------------------------------------------------------


# covers PB-01
def test_minimal_file_loads_with_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})

    assert config.provider.id == "acme"
    assert config.provider.name == "ACME Segurança"
    assert config.provider.kind is ProviderKind.SECURITY_COMPANY
    assert config.storage.data_dir == tmp_path / "data"
    assert config.programs == {}
    assert config.cameras == {}
    assert config.frigate.url == "http://127.0.0.1:5000"
    assert config.frigate.verify_tls is True
    assert config.frigate.password is None
    assert (config.frigate.mqtt.host, config.frigate.mqtt.port) == ("127.0.0.1", 1883)
    assert config.frigate.mqtt.topic_prefix == "frigate"
    assert config.frigate.mqtt.protocol is MqttProtocol.V311  # Frigate speaks 3.1.1; a clean-session-off session never expires
    assert config.frigate.mqtt.tls is None
    assert config.frigate.mqtt.password is None
    assert config.frigate_client_id() == "guarita-acme"
    assert (config.web.host, config.web.port) == ("127.0.0.1", 8765)
    assert config.forward.update_interval == 5
    assert config.forward.max_payload_bytes == 256 * 1024
    assert 0 < config.outbox.warn_ratio < 1


# covers PB-01, PB-05, DT-02
def test_programs_get_default_topic_roots_and_client_ids(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
        programs:
          cop_bh:
            uplink: {host: 127.0.0.1}
          detro:
            uplink: {host: localhost, port: 1884, protocol: "3.1.1"}
        cameras:
          bus_10234_front: {programs: [detro], vehicle: "10234"}
        """,
        head=HEAD.replace("security_company", "bus_operator"),
    )
    config = load_config(path, environ={})

    assert config.provider.kind is ProviderKind.BUS_OPERATOR
    assert config.topic_root(ProgramName.COP_BH) == "copbh/v1"
    assert config.topic_root(ProgramName.DETRO) == "detro/v1"
    assert config.uplink_client_id(ProgramName.COP_BH) == "guarita-acme-cop_bh"
    assert config.uplink_client_id(ProgramName.DETRO) == "guarita-acme-detro"
    detro = config.programs[ProgramName.DETRO]
    assert detro.enabled is True
    assert (detro.uplink.port, detro.uplink.protocol) == (1884, MqttProtocol.V311)
    assert config.programs[ProgramName.COP_BH].uplink.port == 8883
    assert config.cameras["bus_10234_front"].vehicle == "10234"


# covers PB-01, PB-05, DT-02
def test_full_file_with_tls_and_overrides_loads(tmp_path: Path, pki: TestPki) -> None:
    for name in ("tls/copbh-ca.pem", "tls/detro-ca.pem", "tls/frigate-ca.pem"):
        real_pem(tmp_path / name, pki.ca_cert)
    real_pem(tmp_path / "tls/detro.pem", pki.client_cert)
    real_pem(tmp_path / "tls/detro.key", pki.client_key)
    path = write_config(
        tmp_path,
        """\
        frigate:
          url: https://127.0.0.1:8971
          verify_tls: false
          mqtt:
            host: 192.168.1.2
            client_id: frigate-side
            tls: {ca_file: tls/frigate-ca.pem}
        programs:
          cop_bh:
            topic_root: copbh/v2/
            uplink:
              host: mqtt.cop.example.gov.br
              client_id: acme-1
              tls: {ca_file: tls/copbh-ca.pem}
          detro:
            enabled: false
            uplink:
              host: cco.detro.example.rj.gov.br
              tls: {ca_file: tls/detro-ca.pem, cert_file: tls/detro.pem, key_file: tls/detro.key}
        cameras:
          street_front: {programs: [cop_bh], location: {lat: -19.9245, lon: -43.9352}, heading: 180}
          bus_10234_front: {programs: [detro], vehicle: "10234"}
          backyard: {}
        forward: {update_interval: 0}
        web: {host: 0.0.0.0, port: 0}
        """,
    )
    config = load_config(path, environ={})

    assert config.topic_root(ProgramName.COP_BH) == "copbh/v2"
    assert config.uplink_client_id(ProgramName.COP_BH) == "acme-1"
    assert config.frigate_client_id() == "frigate-side"
    assert config.programs[ProgramName.DETRO].enabled is False
    detro_tls = config.programs[ProgramName.DETRO].uplink.tls
    assert detro_tls is not None
    assert detro_tls.cert_file == tmp_path / "tls/detro.pem"
    assert detro_tls.key_file == tmp_path / "tls/detro.key"
    street = config.cameras["street_front"]
    assert street.location is not None
    assert (street.location.lat, street.location.lon, street.heading) == (-19.9245, -43.9352, 180)
    assert config.cameras["backyard"].programs == []
    assert (config.web.host, config.web.port) == ("0.0.0.0", 0)
    assert config.forward.update_interval == 0


# covers PB-01
def test_config_models_are_frozen(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    with pytest.raises(ValueError, match="frozen"):
        config.web.port = 1


# covers PB-01
@pytest.mark.parametrize("name", ["front_door", "bus-10234", "CAM01", "a", "0"])
def test_frigate_camera_names_are_accepted(tmp_path: Path, name: str) -> None:
    assert CAMERA_NAME_PATTERN.match(name)
    config = load_config(write_config(tmp_path, f'cameras:\n  "{name}": {{}}\n'), environ={})
    assert list(config.cameras) == [name]


# --- every kind of error, at the offending key's own line and column ---------------------

ERROR_CASES = [
    pytest.param(
        """\
        frigatte:
          url: http://127.0.0.1:5000
        """,
        ["3:1 frigatte: unknown key; did you mean 'frigate'?"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        """\
        zzz: 1
        """,
        ["3:1 zzz: unknown key; allowed: cameras, fleet, forward, frigate, outbox, programs, provider, retention, storage, video, web"],
        id="unknown-top-level-key-no-close-match",
    ),
    pytest.param(
        """\
        programs:
          cop_bh:
            uplink:
              host: mqtt.cop.example.gov.br
              tsl: {ca_file: ca.pem}
        """,
        ["7:7 programs.cop_bh.uplink.tsl: unknown key; did you mean 'tls'?"],
        id="unknown-deep-key",
    ),
    pytest.param(
        """\
        frigate:
          mqtt:
            tls:
              ca_fle: ca.pem
        """,
        ["6:7 frigate.mqtt.tls.ca_fle: unknown key; did you mean 'ca_file'?"],
        id="unknown-key-under-optional-section",
    ),
    pytest.param(
        """\
        cameras:
          street_front:
            location:
              latitude: -19.9
              lon: -43.9
        """,
        [
            "5:5 cameras.street_front.location.lat: required key is missing",
            "6:7 cameras.street_front.location.latitude: unknown key; allowed: lat, lon",
        ],
        id="unknown-key-in-camera-location",
    ),
    pytest.param(
        """\
        programs:
          cop_bh:
            topic_root: copbh/v1
        """,
        ["4:3 programs.cop_bh.uplink: required key is missing"],
        id="missing-key-at-parent-line",
    ),
    pytest.param(
        """\
        programs:
          detro:
            uplink:
              port: 8883
        """,
        ["5:5 programs.detro.uplink.host: required key is missing"],
        id="missing-deep-key-at-parent-line",
    ),
    pytest.param(
        """\
        frigate:
          mqtt:
            host: 127.0.0.1
            port: abc
        """,
        ["6:5 frigate.mqtt.port: Input should be a valid integer, unable to parse string as an integer"],
        id="wrong-type-int",
    ),
    pytest.param(
        """\
        cameras:
          bus_10234_front:
            programs: []
            vehicle: 10234
        """,
        ["6:5 cameras.bus_10234_front.vehicle: Input should be a valid string"],
        id="wrong-type-unquoted-vehicle",
    ),
    pytest.param(
        """\
        frigate:
          verify_tls: maybe
        """,
        ["4:3 frigate.verify_tls: Input should be a valid boolean, unable to interpret input"],
        id="wrong-type-bool",
    ),
    pytest.param(
        """\
        web: {host: 127.0.0.1, port: 70000}
        """,
        ["3:24 web.port: Input should be less than or equal to 65535"],
        id="out-of-range-flow-mapping",
    ),
    pytest.param(
        """\
        cameras:
          street_front:
            location: {lat: -91, lon: 0}
            heading: 360
        """,
        [
            "5:16 cameras.street_front.location.lat: Input should be greater than or equal to -90",
            "6:5 cameras.street_front.heading: Input should be less than 360",
        ],
        id="out-of-range-camera",
    ),
    pytest.param(
        """\
        forward:
          update_interval: -1
        """,
        ["4:3 forward.update_interval: Input should be greater than or equal to 0"],
        id="out-of-range-update-interval",
    ),
    pytest.param(
        """\
        cameras:
          front_door: {}
          front door: {}
        """,
        ["5:3 cameras.front door: camera name 'front door' must match Frigate's rule ^[a-zA-Z0-9_-]+$"],
        id="bad-camera-name-space",
    ),
    pytest.param(
        """\
        cameras:
          "câmera-1": {}
        """,
        ["4:3 cameras.câmera-1: camera name 'câmera-1' must match Frigate's rule ^[a-zA-Z0-9_-]+$"],
        id="bad-camera-name-accent",
    ),
    pytest.param(
        """\
        programs:
          cop_bh: {uplink: {host: localhost}}
          copbh: {uplink: {host: localhost}}
        """,
        ["5:3 programs.copbh: Input should be 'cop_bh' or 'detro'"],
        id="unknown-program-name",
    ),
    pytest.param(
        """\
        programs:
          cop_bh: {uplink: {host: localhost}}
        cameras:
          street_front:
            location: {lat: 0, lon: 0}
            programs: [cop_bh, nope]
        """,
        ["8:24 cameras.street_front.programs[1]: Input should be 'cop_bh' or 'detro'"],
        id="flow-list-item",
    ),
    pytest.param(
        """\
        programs:
          cop_bh: {uplink: {host: localhost}}
        cameras:
          street_front:
            location: {lat: 0, lon: 0}
            programs:
              - cop_bh
              - nope
        """,
        ["10:9 cameras.street_front.programs[1]: Input should be 'cop_bh' or 'detro'"],
        id="block-list-item",
    ),
    pytest.param(
        """\
        provider: {id: other, name: Other, kind: bus_operator}
        """,
        ["3:1 (yaml): duplicate key 'provider' (first defined on line 1)"],
        id="duplicate-top-level-key",
    ),
    pytest.param(
        """\
        frigate:
          mqtt:
            host: 127.0.0.1
            port: 1883
            host: 10.0.0.2
        """,
        ["7:5 (yaml): duplicate key 'host' (first defined on line 5)"],
        id="duplicate-deep-key",
    ),
    pytest.param(
        """\
        frigate:
          mqtt: {host: a, port: 1, host: b}
        """,
        ["4:28 (yaml): duplicate key 'host' (first defined on line 4)"],
        id="duplicate-key-in-flow-mapping",
    ),
    pytest.param(
        """\
        frigate:
          url: http://127.0.0.1:5000
           mqtt: {}
        """,
        ["5:8 (yaml): mapping values are not allowed here"],
        id="yaml-bad-indentation",
    ),
    pytest.param(
        """\
        frigate:
        \turl: http://127.0.0.1:5000
        """,
        ["4:1 (yaml): found character '\\t' that cannot start any token"],
        id="yaml-tab",
    ),
    pytest.param(
        """\
        cameras:
          street_front: {programs: [cop_bh}
        """,
        ["4:35 (yaml): expected ',' or ']', but got '}'"],
        id="yaml-unclosed-list",
    ),
    pytest.param(
        """\
        ---
        web: {}
        """,
        ["3:1 (yaml): but found another document"],
        id="yaml-two-documents",
    ),
]


# covers PB-01
@pytest.mark.parametrize(("body", "expected"), ERROR_CASES)
def test_each_error_is_reported_at_the_offending_key(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert problems_of(write_config(tmp_path, body)) == expected


# covers PB-01
def test_missing_section_is_reported_at_the_document_start(tmp_path: Path) -> None:
    path = write_config(tmp_path, head="", body="provider: {id: acme, name: ACME, kind: security_company}\n")
    assert problems_of(path) == ["1:1 storage: required key is missing"]


# covers PB-01
def test_missing_key_in_flow_section_is_reported_at_the_section_key(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        head="",
        body="""\
        storage: {data_dir: data}
        provider: {id: acme, name: ACME}
        """,
    )
    assert problems_of(path) == ["2:1 provider.kind: required key is missing"]


# covers PB-01
def test_section_of_wrong_type_is_reported_at_its_key(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        head="",
        body="""\
        provider: acme
        storage: [data]
        """,
    )
    assert problems_of(path) == [
        "1:1 provider: Input should be a valid dictionary or instance of ProviderConfig",
        "2:1 storage: Input should be a valid dictionary or instance of StorageConfig",
    ]


# covers PB-01
def test_bad_provider_values(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        head="",
        body="""\
        provider:
          id: ACME Ltda
          name: ""
          kind: police
        storage: {data_dir: data}
        """,
    )
    assert problems_of(path) == [
        "2:3 provider.id: String should match pattern '^[a-z0-9][a-z0-9_-]{0,62}$'",
        "3:3 provider.name: String should have at least 1 character",
        "4:3 provider.kind: Input should be 'security_company' or 'bus_operator'",
    ]


# covers PB-01
def test_unquoted_colon_in_value_is_a_yaml_error_at_its_column(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        head="",
        body="""\
        provider:
          id: acme
          name: ACME: Segurança
        """,
    )
    assert problems_of(path) == ["3:13 (yaml): mapping values are not allowed here"]


# covers PB-01
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("# only a comment\n", id="comment-only"),
        pytest.param("- provider\n- storage\n", id="list"),
        pytest.param("guarita\n", id="scalar"),
    ],
)
def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    path = write_config(tmp_path, head="", body=text)
    assert problems_of(path) == ["1:1 (top): the file must be a YAML mapping of sections"]


# covers PB-01
def test_missing_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert problems_of(path) == ["1:1 (file): cannot read: No such file or directory"]


# covers PB-01
def test_directory_instead_of_file_is_reported(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == ["1:1 (file): cannot read: Is a directory"]


# covers PB-01
def test_config_error_is_a_guarita_error_with_problems(tmp_path: Path) -> None:
    path = write_config(tmp_path, "zzz: 1\n")
    with pytest.raises(GuaritaError) as info:
        load_config(path, environ={})
    assert isinstance(info.value, ConfigError)
    (problem,) = info.value.problems
    assert problem == ConfigProblem(
        str(path),
        3,
        1,
        "zzz",
        "unknown key; allowed: cameras, fleet, forward, frigate, outbox, programs, provider, retention, storage, video, web",
    )


# covers PB-01
def test_file_not_in_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "guarita.yaml"
    path.write_bytes(HEAD.encode("latin-1"))
    problems = problems_of(path)
    assert len(problems) == 1
    assert "utf-8" in problems[0].lower()


# covers PB-01
def test_control_character_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "web:\n  host: 127.0.0.1\x07\n")
    (problem,) = problems_of(path)
    assert problem.startswith("4:")
    assert "(yaml)" in problem


# --- several problems in one file --------------------------------------------------------

MANY_PROBLEMS = """\
web:
  port: 99999
provider:
  kind: police
  id: acme
  name: ACME
storage:
  data_dir: data
cameras:
  front door: {}
frigatte: {}
"""

MANY_PROBLEMS_EXPECTED = [
    "2:3 web.port: Input should be less than or equal to 65535",
    "4:3 provider.kind: Input should be 'security_company' or 'bus_operator'",
    "10:3 cameras.front door: camera name 'front door' must match Frigate's rule ^[a-zA-Z0-9_-]+$",
    "11:1 frigatte: unknown key; did you mean 'frigate'?",
]


# covers PB-01
def test_every_schema_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    path = write_config(tmp_path, MANY_PROBLEMS, head="")
    assert sorted(problems_of(path)) == sorted(MANY_PROBLEMS_EXPECTED)


# covers PB-01
def test_schema_problems_are_sorted_by_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, MANY_PROBLEMS, head="")
    assert problems_of(path) == MANY_PROBLEMS_EXPECTED


# covers PB-01, PB-05
def test_every_cross_field_problem_is_reported_sorted_by_line(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
        cameras:
          street_front: {programs: [cop_bh, detro, cop_bh]}
        programs:
          cop_bh:
            uplink:
              host: 10.1.2.3
              password_env: COPBH_PASSWORD
        """,
    )
    assert problems_of(path) == [
        "4:3 cameras.street_front: a cop_bh camera needs `location: {lat: ..., lon: ...}` so COP-BH knows where it looks",
        "4:3 cameras.street_front: a detro camera needs `vehicle:` (the vehicle order number)",
        "4:18 cameras.street_front.programs: a program is listed twice",
        "4:37 cameras.street_front.programs[1]: program 'detro' is not configured under `programs`",
        "7:5 programs.cop_bh.uplink: uplink to 10.1.2.3 has no `tls` section; TLS is required for any host "
        "that is not a loopback address (add `tls: {ca_file: ...}`)",
        "9:7 programs.cop_bh.uplink.password_env: environment variable COPBH_PASSWORD is not set",
    ]


# --- cross-field rules -------------------------------------------------------------------

UPLINK_WITHOUT_TLS = """\
programs:
  cop_bh:
    uplink:
      host: "{host}"
"""


# covers PB-05, DT-02
@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost", "LocalHost"])
def test_uplink_without_tls_is_accepted_on_loopback(tmp_path: Path, host: str) -> None:
    config = load_config(write_config(tmp_path, UPLINK_WITHOUT_TLS.format(host=host)), environ={})
    assert config.programs[ProgramName.COP_BH].uplink.tls is None


# covers PB-05, DT-02, BH-07
@pytest.mark.parametrize("host", ["192.168.1.50", "10.0.0.1", "0.0.0.0", "::ffff:c0a8:132", "mqtt.cop.example.gov.br"])
def test_uplink_without_tls_is_refused_elsewhere(tmp_path: Path, host: str) -> None:
    path = write_config(tmp_path, UPLINK_WITHOUT_TLS.format(host=host))
    assert problems_of(path) == [
        f"5:5 programs.cop_bh.uplink: uplink to {host} has no `tls` section; TLS is required for any host "
        "that is not a loopback address (add `tls: {ca_file: ...}`)"
    ]


INGEST = """\
programs:
  cop_bh:
    uplink:
      host: 127.0.0.1
    video_ingest:
      url: "{url}"
"""


# covers BH-07, BH-11
@pytest.mark.parametrize("url", ["rtsp://127.0.0.1:8554/ingest", "srt://localhost:9000", "rtsps://ingest.example:322/live"])
def test_an_ingest_is_accepted_encrypted_or_on_loopback(tmp_path: Path, url: str) -> None:
    """BH-07: plain RTSP and SRT without a passphrase stay allowed on loopback (the tests' ingest); rtsps:// anywhere."""
    config = load_config(write_config(tmp_path, INGEST.format(url=url)), environ={})
    ingest = config.programs[ProgramName.COP_BH].video_ingest
    assert ingest is not None and ingest.url == url and ingest.passphrase is None


# covers BH-07, BH-11
@pytest.mark.parametrize(("url", "hint"), [
    ("rtsp://ingest.cop.example.gov.br:554/live", "use rtsps:// (or srt:// with passphrase_file)"),
    ("rtsp://10.0.0.7/live", "use rtsps:// (or srt:// with passphrase_file)"),
    ("srt://ingest.cop.example.gov.br:9000", "an srt:// ingest needs the SRT passphrase in passphrase_file or "
     "passphrase_env"),
])
def test_an_unencrypted_ingest_is_refused_at_its_url(tmp_path: Path, url: str, hint: str) -> None:
    """BH-07: video leaving the machine is encrypted, as an uplink is; the problem names the key to fix."""
    assert problems_of(write_config(tmp_path, INGEST.format(url=url))) == [
        f"8:7 programs.cop_bh.video_ingest.url: ingest {url} is not encrypted; {hint} for any host that is "
        "not a loopback address"
    ]


# covers BH-07, BH-11
def test_an_srt_ingest_takes_its_passphrase_from_one_source_of_the_right_length(tmp_path: Path) -> None:
    """BH-07: the SRT passphrase comes from a file or the environment (not both), 10 to 79 characters."""
    body = INGEST.format(url="srt://ingest.cop.example.gov.br:9000") + "      passphrase_env: INGEST_PASSPHRASE\n"
    config = load_config(write_config(tmp_path, body), environ={"INGEST_PASSPHRASE": SECRET})
    ingest = config.programs[ProgramName.COP_BH].video_ingest
    assert ingest is not None and ingest.passphrase == SecretStr(SECRET)
    assert problems_of(write_config(tmp_path, body), environ={"INGEST_PASSPHRASE": "short"}) == [
        "9:7 programs.cop_bh.video_ingest.passphrase_env: the SRT passphrase must be 10 to 79 characters long (it is 5)"
    ]
    touch(tmp_path / "ingest.passphrase", SECRET + "\n")
    both = body + "      passphrase_file: ingest.passphrase\n"
    assert problems_of(write_config(tmp_path, both), environ={"INGEST_PASSPHRASE": SECRET}) == [
        "9:7 programs.cop_bh.video_ingest.passphrase_env: give either passphrase_file or passphrase_env, not both"
    ]


# covers PB-05, DT-02
def test_uplink_with_empty_tls_section_uses_system_cas(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
        programs:
          detro:
            uplink: {host: cco.detro.example.rj.gov.br, tls: {}}
        """,
    )
    tls = load_config(path, environ={}).programs[ProgramName.DETRO].uplink.tls
    assert tls is not None
    assert (tls.ca_file, tls.cert_file, tls.key_file) == (None, None, None)


# covers BH-07
def test_password_file_and_env_together_are_refused(tmp_path: Path) -> None:
    touch(tmp_path / "pw")
    path = write_config(
        tmp_path,
        """\
        frigate:
          mqtt:
            password_file: pw
            password_env: MQTT_PW
        """,
    )
    assert problems_of(path, {"MQTT_PW": SECRET}) == [
        "6:5 frigate.mqtt.password_env: give either password_file or password_env, not both"
    ]


# covers PB-05, DT-02
@pytest.mark.parametrize(
    ("tls", "missing"),
    [("cert_file: tls/c.pem", "key_file"), ("key_file: tls/c.key", "cert_file")],
)
def test_client_certificate_needs_its_key(tmp_path: Path, tls: str, missing: str) -> None:
    touch(tmp_path / "tls/c.pem")
    touch(tmp_path / "tls/c.key")
    path = write_config(
        tmp_path,
        f"""\
        programs:
          detro:
            uplink:
              host: cco.detro.example.rj.gov.br
              tls:
                {tls}
        """,
    )
    assert problems_of(path) == [f"7:7 programs.detro.uplink.tls: cert_file and key_file go together; {missing} is missing"]


# covers PB-05, DT-02
def test_frigate_side_client_certificate_needs_its_key(tmp_path: Path) -> None:
    touch(tmp_path / "c.pem")
    path = write_config(tmp_path, "frigate:\n  mqtt:\n    tls: {cert_file: c.pem}\n")
    assert problems_of(path) == ["5:5 frigate.mqtt.tls: cert_file and key_file go together; key_file is missing"]


# covers PB-05, DT-02
def test_missing_tls_files_are_reported_at_their_keys(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
        frigate:
          mqtt:
            tls: {ca_file: frigate-ca.pem}
        programs:
          detro:
            uplink:
              host: cco.detro.example.rj.gov.br
              tls:
                ca_file: tls/ca.pem
                cert_file: tls/c.pem
                key_file: tls/c.key
        """,
    )
    assert problems_of(path) == [
        f"5:11 frigate.mqtt.tls.ca_file: file not found: {tmp_path / 'frigate-ca.pem'}",
        f"11:9 programs.detro.uplink.tls.ca_file: file not found: {tmp_path / 'tls/ca.pem'}",
        f"12:9 programs.detro.uplink.tls.cert_file: file not found: {tmp_path / 'tls/c.pem'}",
        f"13:9 programs.detro.uplink.tls.key_file: file not found: {tmp_path / 'tls/c.key'}",
    ]


# covers PB-05
def test_camera_listing_an_unconfigured_program_is_refused(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
        programs:
          cop_bh: {uplink: {host: localhost}}
        cameras:
          bus_1: {vehicle: "1", programs: [detro]}
          bus_2:
            vehicle: "2"
            programs:
              - detro
        """,
    )
    assert problems_of(path) == [
        "6:36 cameras.bus_1.programs[0]: program 'detro' is not configured under `programs`",
        "10:9 cameras.bus_2.programs[0]: program 'detro' is not configured under `programs`",
    ]


# covers PB-05
def test_cop_bh_camera_needs_a_location(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
        programs:
          cop_bh: {uplink: {host: localhost}}
        cameras:
          backyard: {}
          street_front:
            programs: [cop_bh]
            heading: 90
        """,
    )
    assert problems_of(path) == [
        "7:3 cameras.street_front: a cop_bh camera needs `location: {lat: ..., lon: ...}` so COP-BH knows where it looks"
    ]


# covers PB-05
def test_detro_camera_needs_a_vehicle(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
        programs:
          detro: {uplink: {host: localhost}}
        cameras:
          bus_10234_front:
            programs: [detro]
        """,
    )
    assert problems_of(path) == [
        "6:3 cameras.bus_10234_front: a detro camera needs `vehicle:` (the vehicle order number)"
    ]


# --- secrets -----------------------------------------------------------------------------

SECRETS_BODY = """\
frigate:
  username: guarita
  password_file: secrets/frigate.password
  mqtt:
    password_env: MQTT_PASSWORD
programs:
  cop_bh:
    uplink:
      host: localhost
      username: acme
      password_file: secrets/copbh.password
  detro:
    uplink:
      host: localhost
      password_env: DETRO_PASSWORD
"""


def write_secrets(directory: Path) -> Path:
    touch(directory / "secrets/frigate.password", f"frigate-{SECRET}\n")
    touch(directory / "secrets/copbh.password", f"  \tcopbh-{SECRET}  \n\n")
    return write_config(directory, SECRETS_BODY)


SECRETS_ENV = {"MQTT_PASSWORD": f"mqtt-{SECRET}", "DETRO_PASSWORD": f"detro-{SECRET}"}


# covers BH-07
def test_secrets_are_read_from_files_and_the_given_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DETRO_PASSWORD", "from-os-environ")
    config = load_config(write_secrets(tmp_path), environ=SECRETS_ENV)

    def password(value: SecretStr | None) -> str:
        assert value is not None
        return value.get_secret_value()

    assert password(config.frigate.password) == f"frigate-{SECRET}"
    assert password(config.frigate.mqtt.password) == f"mqtt-{SECRET}"
    assert password(config.programs[ProgramName.COP_BH].uplink.password) == f"copbh-{SECRET}"
    assert password(config.programs[ProgramName.DETRO].uplink.password) == f"detro-{SECRET}"


# covers BH-07
def test_secrets_come_from_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PASSWORD", f"os-{SECRET}")
    path = write_config(tmp_path, "frigate:\n  mqtt: {password_env: MQTT_PASSWORD}\n")
    password = load_config(path).frigate.mqtt.password
    assert password is not None
    assert password.get_secret_value() == f"os-{SECRET}"


# covers BH-07
def test_secret_never_appears_in_the_config_object(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = load_config(write_secrets(tmp_path), environ=SECRETS_ENV)

    texts = {
        "repr": repr(config),
        "str": str(config),
        "json": config.model_dump_json(),
        "dump": repr(config.model_dump()),
        "uplink repr": repr(config.programs[ProgramName.COP_BH].uplink),
        "password repr": repr(config.programs[ProgramName.COP_BH].uplink.password),
        "password str": str(config.frigate.mqtt.password),
        "log": caplog.text,
    }
    for where, text in texts.items():
        assert SECRET not in text, where
    assert "secrets/copbh.password" in texts["json"]  # the file name is not a secret


# covers BH-07
def test_secret_never_appears_in_error_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    touch(tmp_path / "secrets/frigate.password", f"{SECRET}\n")
    path = write_config(
        tmp_path,
        """\
        frigate:
          password_file: secrets/frigate.password
          password_env: FRIGATE_PASSWORD
          mqtt:
            password_env: MQTT_PASSWORD
            port: 0
        programs:
          cop_bh:
            uplink: {host: mqtt.cop.example.gov.br, password_env: COPBH_PASSWORD}
        """,
    )
    environ = {"FRIGATE_PASSWORD": SECRET, "MQTT_PASSWORD": SECRET, "COPBH_PASSWORD": SECRET}
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=environ)
    assert "frigate.mqtt.port" in str(info.value)
    assert SECRET not in str(info.value)

    fixed = path.read_text(encoding="utf-8").replace("port: 0", "port: 1883")
    path.write_text(fixed, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=environ)
    assert [p.key_path for p in info.value.problems] == ["frigate.password_env", "programs.cop_bh.uplink"]
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


# covers BH-07
def test_inline_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f"""\
        programs:
          cop_bh:
            uplink:
              host: localhost
              password: {SECRET}
        """,
    )
    assert problems_of(path) == ["7:7 programs.cop_bh.uplink.password: unknown key; did you mean 'password_env'?"]


# covers BH-07
def test_missing_secrets_are_reported_at_their_keys(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    path = write_config(
        tmp_path,
        """\
        frigate:
          password_file: secrets
          mqtt:
            password_env: MQTT_PASSWORD
        programs:
          cop_bh:
            uplink:
              host: localhost
              password_file: secrets/missing.password
        """,
    )
    assert problems_of(path, {"mqtt_password": "wrong case"}) == [
        f"4:3 frigate.password_file: cannot read password file {tmp_path / 'secrets'}: Is a directory",
        "6:5 frigate.mqtt.password_env: environment variable MQTT_PASSWORD is not set",
        f"11:7 programs.cop_bh.uplink.password_file: cannot read password file "
        f"{tmp_path / 'secrets/missing.password'}: No such file or directory",
    ]


# --- relative paths ----------------------------------------------------------------------


# covers PB-01
def test_relative_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: TestPki
) -> None:
    config_dir = tmp_path / "etc" / "guarita"
    touch(config_dir / "secrets/copbh.password", f"{SECRET}\n")
    real_pem(config_dir / "tls/ca.pem", pki.ca_cert)
    path = write_config(
        config_dir,
        """\
        programs:
          cop_bh:
            uplink:
              host: mqtt.cop.example.gov.br
              password_file: secrets/copbh.password
              tls: {ca_file: tls/ca.pem}
        """,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(Path("../etc/guarita/guarita.yaml"), environ={})

    uplink = config.programs[ProgramName.COP_BH].uplink
    assert config.storage.data_dir == config_dir / "data"
    assert uplink.password_file == config_dir / "secrets/copbh.password"
    assert uplink.tls is not None and uplink.tls.ca_file == config_dir / "tls/ca.pem"
    assert uplink.password is not None and uplink.password.get_secret_value() == SECRET
    assert not (elsewhere / "data").exists()
    assert path.exists()


# covers PB-01
def test_absolute_paths_are_kept(tmp_path: Path, pki: TestPki) -> None:
    ca = real_pem(tmp_path / "pki" / "ca.pem", pki.ca_cert)
    (tmp_path / "conf").mkdir()
    path = write_config(
        tmp_path / "conf",
        f"""\
        frigate:
          mqtt:
            tls: {{ca_file: {ca}}}
        """,
        head=f"provider: {{id: acme, name: ACME, kind: security_company}}\nstorage: {{data_dir: {tmp_path / 'data'}}}\n",
    )
    config = load_config(path, environ={})
    assert config.storage.data_dir == tmp_path / "data"
    assert config.frigate.mqtt.tls is not None and config.frigate.mqtt.tls.ca_file == ca


# covers PB-01
def test_models_validated_without_the_loader_keep_paths_as_given() -> None:
    config = GuaritaConfig.model_validate(
        {"provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"}, "storage": {"data_dir": "data"}}
    )
    assert config.storage.data_dir == Path("data")


# --- which file ----------------------------------------------------------------------------


# covers PB-01
def test_config_path_comes_from_c_or_the_environment(tmp_path: Path) -> None:
    given, from_env = tmp_path / "given.yaml", tmp_path / "env.yaml"
    assert resolve_config_path(str(given), {}) == given
    assert resolve_config_path(None, {CONFIG_ENV: str(from_env)}) == from_env
    assert resolve_config_path(given, {CONFIG_ENV: str(from_env)}) == given
    assert CONFIG_ENV == "GUARITA_CONFIG"


# covers PB-01
def test_no_config_path_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config_path(None, {})
    (problem,) = info.value.problems
    assert "-c" in problem.message and "GUARITA_CONFIG" in problem.message


# --- marks and key paths ---------------------------------------------------------------------


# covers PB-01
def test_load_marked_records_every_key_and_item() -> None:
    doc = load_marked("a:\n  b: [x, y]\n  c:\n    - z\n")
    assert doc.data == {"a": {"b": ["x", "y"], "c": ["z"]}}
    assert doc.marks[()] == Mark(1, 1)
    assert doc.marks[("a",)] == Mark(1, 1)
    assert doc.marks[("a", "b")] == Mark(2, 3)
    assert doc.marks[("a", "b", "1")] == Mark(2, 10)
    assert doc.marks[("a", "c", "0")] == Mark(4, 7)
    assert doc.mark_for(("a", "b", 1)) == Mark(2, 10)
    assert doc.mark_for(("a", "missing", "deeper")) == Mark(1, 1)
    assert doc.mark_for(("a", "c", "nothing")) == Mark(3, 3)


# covers PB-01
def test_empty_document_has_no_marks() -> None:
    doc = load_marked("")
    assert doc.data is None
    assert doc.marks == {}
    assert doc.mark_for(("anything",)) == Mark(1, 1)


# covers PB-01
def test_format_key_path() -> None:
    assert format_key_path(()) == "(top)"
    assert format_key_path(("web",)) == "web"
    assert format_key_path(("cameras", "x", "programs", 0)) == "cameras.x.programs[0]"


# covers PB-01
def test_did_you_mean_hint_finds_the_owning_model() -> None:
    assert _model_at(("programs", "cop_bh", "uplink", "tsl")).__name__ == "UplinkConfig"  # type: ignore[union-attr]
    assert _model_at(("cameras", "x", "location", "latitude")).__name__ == "Location"  # type: ignore[union-attr]
    assert _model_at(("nope", "x")) is None
    assert _model_at(("cameras", "x", "programs", 0, "y")) is None
    assert _model_at(("storage", "data_dir", "x", "y")) is None
    assert _model_at(("frigate", "mqtt", "tls", "ca_file", "x", "y")) is None


# covers PB-05, DT-02
def test_tls_files_that_are_not_pem_are_refused_at_their_line(tmp_path: Path, pki: TestPki) -> None:
    touch(tmp_path / "ca.pem", "PLACEHOLDER, not a certificate\n")
    real_pem(tmp_path / "c.pem", pki.client_cert)
    real_pem(tmp_path / "c.key", pki.ca_key)  # a key, but not the certificate's
    path = write_config(
        tmp_path,
        """\
        programs:
          detro:
            uplink:
              host: detro.example.net
              tls:
                ca_file: ca.pem
                cert_file: c.pem
                key_file: c.key
        """,
    )
    problems = problems_of(path)
    assert [p.split(": ", 1)[0].split(" ")[-1] for p in problems] == [
        "programs.detro.uplink.tls.ca_file",
        "programs.detro.uplink.tls.cert_file",
    ]
    assert "not a usable PEM CA certificate" in problems[0]
    assert "do not load as a PEM pair" in problems[1]


# --- credentials in URLs -------------------------------------------------------------------------


# covers BH-07
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f"frigate:\n  url: http://admin:{SECRET}@127.0.0.1:5000\n",
            "4:3 frigate.url: credentials must not be in the URL (http://***@127.0.0.1:5000); use username and "
            "password_file/_env instead",
        ),
        (
            "frigate:\n  url: https://admin@frigate.lan:8971/\n",
            "4:3 frigate.url: credentials must not be in the URL (https://***@frigate.lan:8971/); use username and "
            "password_file/_env instead",
        ),
        (
            f"frigate:\n  mqtt: {{host: 'guarita:{SECRET}@10.0.0.5'}}\n",
            "4:10 frigate.mqtt.host: give a bare host name or address here, not a URL or user@host (***@10.0.0.5); "
            "the user goes in `username`, the password in password_file/password_env",
        ),
        (
            f"programs:\n  cop_bh:\n    uplink: {{host: 'mqtts://acme:{SECRET}@10.0.0.9'}}\n",
            "5:5 programs.cop_bh.uplink: uplink to mqtts://***@10.0.0.9 has no `tls` section; TLS is required for "
            "any host that is not a loopback address (add `tls: {ca_file: ...}`)\n"
            "5:14 programs.cop_bh.uplink.host: give a bare host name or address here, not a URL or user@host "
            "(mqtts://***@10.0.0.9); the user goes in `username`, the password in password_file/password_env",
        ),
    ],
    ids=["frigate-password", "frigate-user", "frigate-mqtt-host", "uplink-host"],
)
def test_credentials_in_a_url_are_refused_at_its_line_without_echoing_them(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write_config(tmp_path, body)
    assert problems_of(path) == expected.split("\n")


# covers BH-07
def test_cloud_endpoint_with_keys_is_refused_without_echoing_them(tmp_path: Path) -> None:
    body = f"""\
        retention:
          cloud:
            endpoint: http://AKIA:{SECRET}@s3.example.net
            bucket: footage
            access_key_env: AK
            secret_key_env: SK
        """
    problems = problems_of(write_config(tmp_path, body), {"AK": "a", "SK": "s"})
    assert problems == [
        "5:5 retention.cloud.endpoint: credentials must not be in the URL (http://***@s3.example.net); use "
        "access_key_*/secret_key_* instead",
        "5:5 retention.cloud.endpoint: endpoint http://***@s3.example.net is not TLS; use https:// for any host "
        "that is not a loopback address",
    ]


# covers BH-07
def test_bad_dvr_source_is_named_without_its_password(tmp_path: Path) -> None:
    body = f"""\
        fleet:
          vehicles:
            "10234":
              plate: KXY1A23
              dvr:
                serial: S1
                source: smb://dvr:{SECRET}@10.0.0.1/share
                cameras: {{1: interior, 2: front}}
        """
    problems = problems_of(write_config(tmp_path, body))
    assert problems and all(SECRET not in p for p in problems), problems
    assert "9:9 fleet.vehicles.10234.dvr.source: unknown DVR source 'smb://***@10.0.0.1/share'" in problems[0]


# covers BH-07
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@127.0.0.1:5000/x", "http://***@127.0.0.1:5000/x"),
        ("ftp://dvr@10.0.0.1/rec/", "ftp://***@10.0.0.1/rec/"),
        ("https://frigate.lan:8971/", "https://frigate.lan:8971/"),
        ("http://host/path@not-userinfo", "http://host/path@not-userinfo"),
        ("u:p@host", "***@host"),
    ],
)
def test_urls_are_shown_without_their_userinfo(url: str, shown: str) -> None:
    from guarita._config_rules import without_userinfo

    assert without_userinfo(url) == shown
