#!/usr/bin/env bash
# The test command: set up (idempotent) and run the whole suite on CPU, printing the 15 slowest tests.
#   bash scripts/test.sh --fast   only the tests not marked slow (no llamafactory-cli, OpenCompass or model server)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
select=()
if [ "${1:-}" = "--fast" ]; then
  shift
  select=(-m "not slow")
fi
exec "$ROOT/.venv/bin/python" -m pytest -q --durations=15 "${select[@]}" tests "$@"
