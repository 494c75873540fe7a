#!/usr/bin/env bash
# The main job on the embedded default model (CPU): set up, prepare SST-2 (a task SmolLM2-135M-Instruct can learn
# here, see results/pilot_learnability) from the data root, fine-tune it twice through the stock
# `llamafactory-cli train` — with the task's one fixed user-specified prompt, and with PAFT (a prompt drawn from the
# train pool per window of K steps), both through the PAFT hook with the same rows, order, seed and steps (the
# baseline YAML keeps the fixed prompt in every window) — then evaluate the base model and both adapters on the same questions in one
# OpenCompass run, over the unseen test prompts and the seen-prompt probe, and write the robustness report.
# Knobs: PAFT_TASK (sst2), PAFT_MAIN_PROMPTS (50 test prompts), PAFT_MAIN_QUESTIONS (30 per prompt),
# PAFT_MAIN_MAX_OUT (4 tokens), PAFT_MAIN_DTYPE (evaluation weights: bfloat16, 2.5x faster here with 197 of 200 base
# model outputs unchanged, results/bench_eval_throughput.md; float32 for exact predictions).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TASK="${PAFT_TASK:-sst2}"
PROMPTS="${PAFT_MAIN_PROMPTS:-50}"
QUESTIONS="${PAFT_MAIN_QUESTIONS:-30}"
MAX_OUT="${PAFT_MAIN_MAX_OUT:-4}"
DTYPE="${PAFT_MAIN_DTYPE:-bfloat16}"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
for variant in baseline paft; do
  [ -f "yaml/$TASK/cpu_$variant.yaml" ] || { echo "[main] yaml/$TASK/cpu_$variant.yaml does not exist (task without a shipped pool?)"; exit 1; }
done
t0=$(date +%s)
mkdir -p outputs
seed="$(grep -E '^seed:' "yaml/$TASK/cpu_paft.yaml" | awk '{print $2}')"
train_dtype="$(grep -qE '^bf16: true' "yaml/$TASK/cpu_paft.yaml" && echo bf16 || echo fp32)"
echo "[main] $TASK: seed $seed, $train_dtype training (yaml/$TASK/cpu_{baseline,paft}.yaml), $DTYPE evaluation, $PROMPTS test" \
  "prompts + the seen probe x $QUESTIONS questions"
paft-ext prepare --tasks "$TASK" --eval-samples "$QUESTIONS" --seed 0 > outputs/prepare.log
echo "[main] prepared $TASK (seeded subset of $QUESTIONS evaluation questions): .cache/data"
for variant in baseline paft; do
  rm -rf "saves/$TASK/cpu_$variant"  # a fresh run (the YAMLs resume from a checkpoint in their output_dir)
  llamafactory-cli train "yaml/$TASK/cpu_$variant.yaml" > "outputs/train_main_$variant.log" 2>&1 \
    || { echo "[main] training failed, see outputs/train_main_$variant.log"; tail -20 "outputs/train_main_$variant.log"; exit 1; }
  grep -E "\[PAFT\] expanded|train_loss|train_runtime" "outputs/train_main_$variant.log" || true
  echo "[main] $variant training done at $(( $(date +%s) - t0 )) s: saves/$TASK/cpu_$variant"
done
t1=$(date +%s)
rm -rf "outputs/eval_main"
paft-ext eval --tasks "$TASK" --adapter "fixed=saves/$TASK/cpu_baseline" --adapter "paft=saves/$TASK/cpu_paft" \
  --prompt-set test --prompt-set seen_probe --prompts "$PROMPTS" --max-out-len "$MAX_OUT" --batch-size 8 \
  --dtype "$DTYPE" \
  --data .cache/data/opencompass --work-dir outputs/eval_main \
  > outputs/eval_main.log 2>&1 || { echo "[main] evaluation failed, see outputs/eval_main.log"; tail -30 outputs/eval_main.log; exit 1; }
run_dir="$(dirname "$(ls -d outputs/eval_main/*/paft_report | tail -1)")"
cat "$run_dir/paft_report/report.md"
echo "[main] evaluation done in $(( $(date +%s) - t1 )) s; total $(( $(date +%s) - t0 )) s"
echo "[main] adapters: $ROOT/saves/$TASK/cpu_baseline (fixed prompt), $ROOT/saves/$TASK/cpu_paft (PAFT)"
echo "[main] report:   $ROOT/$run_dir/paft_report/report.md (also .csv, .json, per_prompt.csv)"
echo "[main] plots:    $ROOT/$run_dir/paft_report/plots/"
