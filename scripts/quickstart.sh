#!/usr/bin/env bash
# The README's two commands: `scripts/quickstart.sh demo` and `scripts/quickstart.sh test`.
# Installs what is missing on a fresh Debian machine (ffmpeg, mosquitto, a venv with
# Guarita and its test dependencies), then runs the demo or the whole test suite (with the
# Home Assistant integration's tests, in .venv-hass: scripts/hass_env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

want=()
command -v ffmpeg >/dev/null 2>&1 || want+=(ffmpeg)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || want+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || want+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || want+=(openssl)
# The RTSP server the onboarding tests talk to: GStreamer's, driven by the system python3.
if ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' >/dev/null 2>&1; then
  want+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
fi
command -v ip >/dev/null 2>&1 || want+=(iproute2)
# The deployment test checks the systemd unit with systemd-analyze verify.
command -v systemd-analyze >/dev/null 2>&1 || want+=(systemd)
# The browser tests (console, homeowner pages, live view) drive Debian's Chromium headless.
command -v chromium >/dev/null 2>&1 || want+=(chromium)
# The browser tests' accessibility check injects axe-core, installed from tests/browser's lockfile with npm.
command -v npm >/dev/null 2>&1 || want+=(npm)
if [ ${#want[@]} -gt 0 ]; then
  echo "quickstart: installing ${want[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${want[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "quickstart: creating .venv" >&2
  "$python" -m venv .venv
fi
stamp=.venv/.guarita-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "quickstart: installing guarita and its test dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  touch "$stamp"
fi

if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
  echo "quickstart: installing the browser tests' axe-core (npm ci in tests/browser)" >&2
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null
fi

command=${1:-}
shift || true
case "$command" in
  demo) exec .venv/bin/guarita demo "$@" ;;
  test)
    # The Home Assistant integration's suite first (its own Python 3.13 venv), then the main
    # suite, whose summary line is the last one printed; either failing fails the run.
    hass_status=0
    bash scripts/hass_env.sh -q || hass_status=$?
    if [ "$hass_status" -ne 0 ]; then
      echo "quickstart: the Home Assistant tests failed (exit $hass_status); the main suite runs anyway" >&2
    fi
    # One pytest worker per core (pytest-xdist): most tests wait on brokers, ffmpeg and
    # timers, so two workers on two cores halve the wall time. GUARITA_TEST_WORKERS=0 runs
    # them in this one process.
    main_status=0
    .venv/bin/python -m pytest -n "${GUARITA_TEST_WORKERS:-auto}" --cov --cov-report=term "$@" || main_status=$?
    if [ "$main_status" -ne 0 ]; then exit "$main_status"; fi
    exit "$hass_status" ;;
  *) echo "usage: scripts/quickstart.sh demo|test [args...]" >&2; exit 2 ;;
esac
