#!/usr/bin/env bash
# The main job on the embedded default model (CPU): set up, prepare SST-2 (a task SmolLM2-135M-Instruct can learn
# here, see results/pilot_learnability) from the data root, fine-tune it twice through the stock
# `llamafactory-cli train` — with the task's one fixed user-specified prompt, and with PAFT (a prompt drawn from the
# train pool per window of K steps), both through the PAFT hook with the same rows, order, seed and steps (the
# baseline YAML keeps the fixed prompt in every window) — then evaluate the base model and both adapters on the same
# questions in one OpenCompass run, over the unseen test prompts and the seen-prompt probe, and write the robustness
# report. The rows are Table 1 `cpu`'s 400 training records and the questions the first of its 100 (same data root,
# same seeds), so the main job reads like one more seed of Table 1 (scripts/main_vs_table1.py compares them).
# Knobs: PAFT_TASK (sst2), PAFT_MAIN_PROMPTS (first 10 prompts of `test` and of `seen_probe`), PAFT_MAIN_QUESTIONS
# (first 40 of the 100 prepared questions), PAFT_MAIN_MAX_OUT (4 tokens), PAFT_MAIN_DTYPE (evaluation weights:
# bfloat16, 2.5x faster here with 197 of 200 base model outputs unchanged, results/bench_eval_throughput.md; float32
# for exact predictions), PAFT_MAIN_PARALLEL (1: the two trainings side by side, one thread each — on 2 cores 778 s
# instead of 892 s one after the other, with bit-identical adapters, results/main_job_sst2/README.md; 0: one after
# the other with every thread).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TASK="${PAFT_TASK:-sst2}"
PROMPTS="${PAFT_MAIN_PROMPTS:-10}"
QUESTIONS="${PAFT_MAIN_QUESTIONS:-40}"
MAX_OUT="${PAFT_MAIN_MAX_OUT:-4}"
DTYPE="${PAFT_MAIN_DTYPE:-bfloat16}"
PARALLEL="${PAFT_MAIN_PARALLEL:-1}"
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
  "prompts + the seen probe x $QUESTIONS questions, trainings side by side: $PARALLEL"
PREPARED=$(( QUESTIONS > 100 ? QUESTIONS : 100 ))  # Table 1 `cpu`'s 100 questions (prepare seed 0), or more
paft-ext prepare --tasks "$TASK" --eval-samples "$PREPARED" --seed 0 > outputs/prepare.log
echo "[main] prepared $TASK (seeded subset of $PREPARED evaluation questions, the first $QUESTIONS read): .cache/data"
train() {  # one training, its log, and the lines worth printing
  local variant="$1"
  rm -rf "saves/$TASK/cpu_$variant"  # a fresh run (the YAMLs resume from a checkpoint in their output_dir)
  llamafactory-cli train "yaml/$TASK/cpu_$variant.yaml" > "outputs/train_main_$variant.log" 2>&1
}
report_training() {
  grep -E "\[PAFT\] expanded|train_loss|train_runtime" "outputs/train_main_$1.log" || true
  echo "[main] $1 training done at $(( $(date +%s) - t0 )) s: saves/$TASK/cpu_$1"
}
failed() { echo "[main] training failed, see outputs/train_main_$1.log"; tail -20 "outputs/train_main_$1.log"; exit 1; }
if [ "$PARALLEL" = 1 ]; then
  OMP_NUM_THREADS=1 train baseline & pid_baseline=$!
  OMP_NUM_THREADS=1 train paft & pid_paft=$!
  rc_baseline=0; rc_paft=0
  wait "$pid_baseline" || rc_baseline=$?
  wait "$pid_paft" || rc_paft=$?
  [ "$rc_baseline" = 0 ] || failed baseline
  [ "$rc_paft" = 0 ] || failed paft
  report_training baseline; report_training paft
else
  for variant in baseline paft; do
    train "$variant" || failed "$variant"
    report_training "$variant"
  done
fi
t1=$(date +%s)
rm -rf "outputs/eval_main"
paft-ext eval --tasks "$TASK" --adapter "fixed=saves/$TASK/cpu_baseline" --adapter "paft=saves/$TASK/cpu_paft" \
  --prompt-set test --prompt-set seen_probe --prompts "$PROMPTS" --questions "$QUESTIONS" --max-out-len "$MAX_OUT" --batch-size 8 \
  --dtype "$DTYPE" \
  --data .cache/data/opencompass --work-dir outputs/eval_main \
  > outputs/eval_main.log 2>&1 || { echo "[main] evaluation failed, see outputs/eval_main.log"; tail -30 outputs/eval_main.log; exit 1; }
run_dir="$(dirname "$(ls -d outputs/eval_main/*/paft_report | tail -1)")"
cat "$run_dir/paft_report/report.md"
echo "[main] evaluation done in $(( $(date +%s) - t1 )) s; total $(( $(date +%s) - t0 )) s"
echo "[main] adapters: $ROOT/saves/$TASK/cpu_baseline (fixed prompt), $ROOT/saves/$TASK/cpu_paft (PAFT)"
echo "[main] report:   $ROOT/$run_dir/paft_report/report.md (also .csv, .json, per_prompt.csv)"
echo "[main] plots:    $ROOT/$run_dir/paft_report/plots/"
