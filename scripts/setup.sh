#!/usr/bin/env bash
# One-time, idempotent setup: a virtual environment in .venv with the locked stack (requirements/lock.txt: every
# package at an exact version; refresh it with scripts/refresh_lock.sh), the embedded default model converted to a
# normal Hugging Face folder, and an import check.
# A second run skips every slow step (pip runs only when pyproject or the lock change).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PAFT_PYTHON:-python3.11}"
STAMP="$VENV/.paft_setup_stamp"
t0=$(date +%s)

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $("$PY" --version)"
  "$PY" -m venv "$VENV"
fi
want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/lock.txt" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing the pinned stack (first run: several minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  "$VENV/bin/python" -m pip install --quiet -c "$ROOT/requirements/lock.txt" -e "$ROOT[dev]" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  "$VENV/bin/python" -m pip check
  echo "$want" > "$STAMP"
fi
"$VENV/bin/python" -m paft_ext.default_model ensure
"$VENV/bin/python" - <<'PY'
import importlib
for name in ("llamafactory", "opencompass", "peft", "transformers", "torch", "paft_ext"):
    mod = importlib.import_module(name)
    print(f"[setup] import {name} {getattr(mod, '__version__', '')}")
PY
echo "[setup] done in $(( $(date +%s) - t0 )) s"
