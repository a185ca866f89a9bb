#!/usr/bin/env bash
# mypy --strict over the import layout: pyproject maps adapters/, plugins/, consent/ and
# retention/ into guarita.*, which mypy cannot follow, so link that layout in a temp dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/guarita"
for entry in "$root"/guarita/*; do ln -s "$entry" "$tree/guarita/$(basename "$entry")"; done
for folder in adapters plugins consent retention; do ln -s "$root/$folder" "$tree/guarita/$folder"; done
cd "$tree"
"$root/.venv/bin/python" -m mypy --strict --config-file "$root/pyproject.toml" -p guarita "$@"
