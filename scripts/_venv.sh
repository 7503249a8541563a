# Sourced by scripts/dev and scripts/test: makes .venv with Python 3.12 (the Lambda runtime) and
# installs the pinned requirements and sdk/python when they changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
find_python() {
  for candidate in "${PYTHON:-}" "$HOME/.pyenv/versions/3.12.1/bin/python" python3.12; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then
      if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
        echo "$candidate"; return 0
      fi
    fi
  done
  echo "CostPilot needs Python 3.12 (the Lambda python3.12 runtime); set PYTHON=/path/to/python3.12" >&2
  return 1
}
if [ ! -x "$VENV/bin/python" ]; then
  "$(find_python)" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
sdk_files() { find "$ROOT/sdk/python" -type f \( -name '*.py' -o -name '*.toml' -o -name '*.md' -o -name py.typed \) -not -path '*/build/*' | sort; }
want="$( (cat "$ROOT"/requirements*.txt; sdk_files | xargs cat) | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade 'pip<26.3'  # chalice 1.34 requires pip<26.3
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
  # the SDK as a user gets it (not editable): tests and scripts/dev use the installed package
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$ROOT/sdk/python"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
