#!/usr/bin/env bash
# The main job on the embedded default model (CPU): set up, prepare PIQA from the data root, and fine-tune
# SmolLM2-135M-Instruct with LoRA through the stock `llamafactory-cli train`. Prints where the outputs are.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TASK="${PAFT_TASK:-piqa}"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
t0=$(date +%s)
paft-ext prepare --tasks "$TASK" --eval-samples 200 --seed 0 > .cache/prepare.log
echo "[main] prepared $TASK: $(tail -2 .cache/prepare.log | tr '\n' ' ')"
llamafactory-cli train "yaml/$TASK/cpu_baseline.yaml" 2>&1 | tee .cache/train_main.log | grep -E "'loss'|train_loss|train_runtime" || true
test -f "saves/$TASK/cpu_baseline/adapter_model.safetensors" || { echo "[main] training failed, see .cache/train_main.log"; exit 1; }
echo "[main] done in $(( $(date +%s) - t0 )) s"
echo "[main] LoRA adapter, trainer log and loss plot: $ROOT/saves/$TASK/cpu_baseline"
echo "[main] LLaMA-Factory data: $ROOT/.cache/data/llamafactory   OpenCompass data: $ROOT/.cache/data/opencompass"
