"""Tests of ``guarita check-config``: the summary, the problem lines, ``-c`` and ``GUARITA_CONFIG``.

``guarita.cli.main`` runs in-process; one test runs the real module in a subprocess to prove
the command works outside pytest.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

import guarita
from guarita.cli.main import main, summarize
from guarita.config_loader import load_config

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-Pa55-do-not-leak"

VALID = """\
provider: {id: acme, name: "ACME Segurança", kind: security_company}
storage: {data_dir: data}
frigate:
  mqtt: {username: guarita, password_env: GUARITA_TEST_MQTT_PASSWORD}
programs:
  cop_bh:
    uplink:
      host: mqtt.cop.example.gov.br
      username: acme
      password_file: secrets/copbh.password
      tls: {ca_file: tls/ca.pem}
  detro:
    enabled: false
    topic_root: detro/v2/
    uplink: {host: 127.0.0.1, port: 1884}
cameras:
  street_front: {programs: [cop_bh], location: {lat: -19.9245, lon: -43.9352}, heading: 180}
  backyard: {programs: []}
  garage: {}
  bus_10234_front: {programs: [detro], vehicle: "10234"}
"""

INVALID = """\
provider: {id: acme, name: "ACME Segurança", kind: security_company}
storage: {data_dir: data}
programs:
  cop_bh:
    uplink:
      host: mqtt.cop.example.gov.br
      password_env: GUARITA_TEST_MQTT_PASSWORD
cameras:
  street_front: {programs: [cop_bh, detro]}
"""

INVALID_LINES = [
    "5:5 programs.cop_bh.uplink: uplink to mqtt.cop.example.gov.br has no `tls` section; TLS is required for "
    "any host that is not a loopback address (add `tls: {ca_file: ...}`)",
    "9:3 cameras.street_front: a cop_bh camera needs `location: {lat: ..., lon: ...}` so COP-BH knows where it looks",
    "9:3 cameras.street_front: a detro camera needs `vehicle:` (the vehicle order number)",
    "9:37 cameras.street_front.programs[1]: program 'detro' is not configured under `programs`",
]

PROBLEM_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+) (?P<key>\S+): (?P<message>.+)$")


@pytest.fixture(autouse=True)
def _undo_cli_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``main()`` installs a root handler and level for the process; take them away afterwards."""
    monkeypatch.delenv("GUARITA_CONFIG", raising=False)
    monkeypatch.delenv("GUARITA_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    root.setLevel(level)


def write(directory: Path, text: str, name: str = "guarita.yaml") -> Path:
    """Write a config file (and the secret and CA it names) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "secrets").mkdir(exist_ok=True)
    (directory / "secrets/copbh.password").write_text(f"{SECRET}\n", encoding="utf-8")
    (directory / "tls").mkdir(exist_ok=True)
    # A real CA certificate: check-config loads it (the example's public CA, no key kept).
    (directory / "tls/ca.pem").write_bytes((ROOT / "examples/tls/copbh-ca.pem").read_bytes())
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def expected_summary(path: Path) -> str:
    return textwrap.dedent(
        f"""\
        {path}: valid
        provider: acme (ACME Segurança, security_company)
        program cop_bh: enabled, mqtt.cop.example.gov.br:8883 TLS, topics copbh/v1/acme/..., 1 cameras
        program detro: disabled, 127.0.0.1:1884 plain (loopback), topics detro/v2/acme/..., 1 cameras
        cameras: 4 (2 never leave: backyard, garage)
        data_dir: {path.parent / "data"}
        """
    )


# covers PB-01, PB-05, DT-02
def test_valid_file_exits_0_with_a_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", SECRET)
    path = write(tmp_path, VALID)

    assert main(["check-config", "-c", str(path)]) == 0

    out, err = capsys.readouterr()
    assert out == expected_summary(path)
    assert err == ""


# covers PB-01
def test_summary_of_a_file_without_programs_or_cameras(tmp_path: Path) -> None:
    path = write(tmp_path, "provider: {id: acme, name: ACME, kind: bus_operator}\nstorage: {data_dir: /srv/g}\n")
    assert summarize(load_config(path, environ={}), path) == (
        f"{path}: valid\nprovider: acme (ACME, bus_operator)\ncameras: 0 (0 never leave: none)\ndata_dir: /srv/g"
    )


# covers PB-01, PB-05, DT-02
def test_invalid_file_exits_1_with_one_line_per_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", SECRET)
    path = write(tmp_path, INVALID)

    assert main(["check-config", "-c", str(path)]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{path}:{line}" for line in INVALID_LINES]
    for line in err.splitlines():
        match = PROBLEM_LINE.match(line)
        assert match is not None, line
        assert match["file"] == str(path)


# covers PB-01
def test_yaml_error_exits_1_in_the_same_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "provider:\n  id: acme\n  name: ACME: Segurança\n")
    assert main(["check-config", "-c", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}:3:13 (yaml): mapping values are not allowed here\n"


# covers PB-01
def test_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.yaml"
    assert main(["check-config", "-c", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}:1:1 (file): cannot read: No such file or directory\n"


# covers PB-01
def test_file_not_in_utf8_exits_1_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "guarita.yaml"
    path.write_bytes(b'provider: {id: acme, name: "ACME Seguran\xe7a", kind: security_company}\n')
    assert main(["check-config", "-c", str(path)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert PROBLEM_LINE.match(line)


# covers PB-01
def test_guarita_config_is_used_when_c_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", SECRET)
    path = write(tmp_path, VALID)
    monkeypatch.setenv("GUARITA_CONFIG", str(path))

    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == expected_summary(path)


# covers PB-01
def test_c_wins_over_guarita_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", SECRET)
    good = write(tmp_path / "good", VALID)
    bad = write(tmp_path / "bad", INVALID)

    monkeypatch.setenv("GUARITA_CONFIG", str(bad))
    assert main(["check-config", "--config", str(good)]) == 0
    assert capsys.readouterr().out == expected_summary(good)

    monkeypatch.setenv("GUARITA_CONFIG", str(good))
    assert main(["check-config", "-c", str(bad)]) == 1
    assert capsys.readouterr().err.splitlines()[0].startswith(f"{bad}:5:5 ")


# covers PB-01
def test_no_config_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) in (1, 2)
    out, err = capsys.readouterr()
    assert out == ""
    assert "-c" in err and "GUARITA_CONFIG" in err
    assert "Traceback" not in err
    assert err == "no config file: pass -c FILE or set GUARITA_CONFIG\n"  # no `(none):1:1` location


# covers PB-01
def test_config_file_may_be_given_positionally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", SECRET)
    good = write(tmp_path / "good", VALID)
    bad = write(tmp_path / "bad", INVALID)

    assert main(["check-config", str(good)]) == 0
    assert capsys.readouterr().out == expected_summary(good)
    assert main(["check-config", str(bad)]) == 1
    assert capsys.readouterr().err.splitlines()[0].startswith(f"{bad}:5:5 ")
    assert main(["check-config", str(good), "-c", str(good)]) == 0
    capsys.readouterr()
    assert main(["check-config", str(good), "-c", str(bad)]) == 2
    assert "two config files" in capsys.readouterr().err


# covers BH-07
@pytest.mark.parametrize("args", [[], ["--online"]], ids=["offline", "online"])
def test_frigate_url_with_a_password_is_refused_and_never_printed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    args: list[str],
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", "mqtt-placeholder")
    text = VALID.replace("frigate:\n", f"frigate:\n  url: http://admin:{SECRET}@127.0.0.1:9\n", 1)
    path = write(tmp_path, text)
    (tmp_path / "secrets/copbh.password").write_text("copbh-placeholder\n", encoding="utf-8")
    guarita_logger = logging.getLogger("guarita")
    guarita_logger.addHandler(caplog.handler)
    try:
        code = main(["-v", "check-config", str(path), *args])
    finally:
        guarita_logger.removeHandler(caplog.handler)

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err == (
        f"{path}:4:3 frigate.url: credentials must not be in the URL (http://***@127.0.0.1:9); "
        "use username and password_file/_env instead\n"
    )
    assert SECRET not in out + err + caplog.text


# covers PB-01
def test_relative_c_is_resolved_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", SECRET)
    write(tmp_path / "etc", VALID)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")

    assert main(["check-config", "-c", "../etc/guarita.yaml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("../etc/guarita.yaml: valid\n")
    assert f"data_dir: {tmp_path / 'etc' / 'data'}\n" in out


# covers BH-07
@pytest.mark.parametrize("text", [VALID, INVALID], ids=["valid", "invalid"])
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_never_reach_output_or_logs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    text: str,
    log_format: str,
) -> None:
    monkeypatch.setenv("GUARITA_TEST_MQTT_PASSWORD", SECRET)
    path = write(tmp_path, text)
    guarita_logger = logging.getLogger("guarita")
    guarita_logger.addHandler(caplog.handler)  # main() replaces the root handlers, caplog's included
    try:
        code = main(["-v", "--log-format", log_format, "check-config", "-c", str(path)])
    finally:
        guarita_logger.removeHandler(caplog.handler)

    out, err = capsys.readouterr()
    assert code == (0 if text is VALID else 1)
    assert out or err
    for where, captured in {"stdout": out, "stderr": err, "log": caplog.text}.items():
        assert SECRET not in captured, where


# covers PB-01
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"guarita {guarita.__version__}\n"
    assert guarita.__version__ == metadata.version("guarita")


# covers PB-01
def test_console_script_points_at_main() -> None:
    (script,) = [ep for ep in metadata.entry_points(group="console_scripts") if ep.name == "guarita"]
    assert script.value == "guarita.cli.main:main"
    assert script.load() is main


def _run_cli(args: list[str], cwd: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARITA_")}
    env.update(extra_env, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "guarita.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


# covers PB-01, BH-07
def test_check_config_as_a_real_process(tmp_path: Path) -> None:
    valid = write(tmp_path / "good", VALID)
    invalid = write(tmp_path / "bad", INVALID)
    env = {"GUARITA_TEST_MQTT_PASSWORD": SECRET}

    ok = _run_cli(["check-config", "-c", str(valid)], tmp_path, env)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, expected_summary(valid), "")

    bad = _run_cli(["check-config"], tmp_path, {**env, "GUARITA_CONFIG": str(invalid)})
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.splitlines() == [f"{invalid}:{line}" for line in INVALID_LINES]
    assert SECRET not in ok.stdout + ok.stderr + bad.stdout + bad.stderr


# covers PB-01
def test_the_readme_command_for_the_example_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^(\w+)=(\S+) \.venv/bin/guarita (check-config config\.example\.yaml) ", readme, re.MULTILINE)
    assert match is not None, "README shows how to check config.example.yaml"
    monkeypatch.setenv(match[1], match[2])
    monkeypatch.chdir(ROOT)
    assert main(match[3].split()) == 0
    assert capsys.readouterr().out.startswith("config.example.yaml: valid\n")
