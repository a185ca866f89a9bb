#!/usr/bin/env bash
# The Home Assistant integration's tests (custom_components/guarita, tests_hass/).
# Builds .venv-hass on Python 3.13.0 with pytest-homeassistant-custom-component 0.13.233
# (Home Assistant 2025.4.1; 2025.5 needs Python 3.13.2), checks the integration with
# mypy --strict, then runs tests_hass/ with coverage of the integration (at least 95 %).
# The tests start `.venv/bin/guarita run`, so the main environment must be installed first
# (scripts/quickstart.sh does that).
# A missing Python 3.13.0 is an error, never a skip. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

ha_pin="pytest-homeassistant-custom-component==0.13.233"
tools=("pytest-cov>=5,<8" "mypy>=1.10,<2")
if command -v pyenv >/dev/null 2>&1; then
  python313="$(pyenv root)/versions/3.13.0/bin/python"
else
  python313="${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13.0/bin/python"
fi
python313=${HASS_PYTHON:-$python313}
if [ -z "$python313" ] || [ ! -x "$python313" ]; then
  echo "hass_env: Python 3.13.0 not found (looked for \$(pyenv root)/versions/3.13.0/bin/python;" \
       "install it with 'pyenv install 3.13.0' or point HASS_PYTHON at a 3.13 interpreter)" >&2
  exit 1
fi
if [ ! -x .venv/bin/guarita ]; then
  echo "hass_env: .venv/bin/guarita is missing: the tests run the real Guarita; run scripts/quickstart.sh test" >&2
  exit 1
fi
if [ ! -x .venv-hass/bin/python ]; then
  echo "hass_env: creating .venv-hass with $python313" >&2
  "$python313" -m venv .venv-hass
fi
stamp=.venv-hass/.guarita-hass-installed
wanted="$ha_pin ${tools[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "hass_env: installing $wanted into .venv-hass" >&2
  .venv-hass/bin/python -m pip install -q --disable-pip-version-check "$ha_pin" "${tools[@]}"
  echo "$wanted" > "$stamp"
fi
# The integration is typed as strictly as Guarita (the quality scale's strict-typing).
.venv-hass/bin/python -m mypy --strict --python-version 3.13 --follow-imports=silent custom_components/guarita
exec .venv-hass/bin/python -m pytest -c tests_hass/pytest.ini --rootdir=. -p no:cacheprovider \
  --cov=custom_components.guarita --cov-report=term-missing --cov-fail-under=95 "$@" tests_hass
