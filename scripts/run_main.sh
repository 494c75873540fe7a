#!/usr/bin/env bash
# The main job on the embedded default model (CPU): set up, prepare PIQA from the data root, fine-tune
# SmolLM2-135M-Instruct with PAFT through the stock `llamafactory-cli train`, evaluate the base model and the PAFT
# adapter on every shipped test prompt in one OpenCompass run, and write the robustness report with plots.
# Knobs: PAFT_TASK (piqa), PAFT_MAIN_PROMPTS (50), PAFT_MAIN_QUESTIONS (40 per prompt), PAFT_MAIN_MAX_OUT (8).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TASK="${PAFT_TASK:-piqa}"
PROMPTS="${PAFT_MAIN_PROMPTS:-50}"
QUESTIONS="${PAFT_MAIN_QUESTIONS:-40}"
MAX_OUT="${PAFT_MAIN_MAX_OUT:-8}"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
t0=$(date +%s)
mkdir -p outputs
paft-ext prepare --tasks "$TASK" --eval-samples "$QUESTIONS" --seed 0 > outputs/prepare.log
echo "[main] prepared $TASK (seeded subset of $QUESTIONS evaluation questions): .cache/data"
llamafactory-cli train "yaml/$TASK/cpu_paft.yaml" > outputs/train_main.log 2>&1 \
  || { echo "[main] training failed, see outputs/train_main.log"; tail -20 outputs/train_main.log; exit 1; }
grep -E "\[PAFT\] expanded|train_loss|train_runtime" outputs/train_main.log || true
t1=$(date +%s)
echo "[main] PAFT training done in $(( t1 - t0 )) s: saves/$TASK/cpu_paft (paft_schedule.json, trainer_log.jsonl)"
rm -rf "outputs/eval_main"
paft-ext eval --tasks "$TASK" --adapter "paft=saves/$TASK/cpu_paft" --prompts "$PROMPTS" \
  --max-out-len "$MAX_OUT" --batch-size 8 --data .cache/data/opencompass --work-dir outputs/eval_main \
  > outputs/eval_main.log 2>&1 || { echo "[main] evaluation failed, see outputs/eval_main.log"; tail -30 outputs/eval_main.log; exit 1; }
run_dir="$(dirname "$(ls -d outputs/eval_main/*/paft_report | tail -1)")"
cat "$run_dir/paft_report/report.md"
echo "[main] evaluation done in $(( $(date +%s) - t1 )) s; total $(( $(date +%s) - t0 )) s"
echo "[main] adapter:  $ROOT/saves/$TASK/cpu_paft"
echo "[main] report:   $ROOT/$run_dir/paft_report/report.md (also .csv, .json, per_prompt.csv)"
echo "[main] plots:    $ROOT/$run_dir/paft_report/plots/"
