"""Typed presets of the Table 1 experiment (``scripts/reproduce_table1.py``).

* ``small`` — the embedded SmolLM2-135M-Instruct on 2 CPU cores in about two hours: PIQA and WinoGrande, 160 seeded
  training records, 16 seeded evaluation questions per test prompt (the same questions for every prompt and method),
  all 50 test prompts, K=4, T=3, the ``cpu`` training recipe.
* ``cpu`` — the evidence run on a task the embedded model can learn (``results/pilot_learnability``): SST-2, 400
  seeded training records (300 optimizer steps), 100 seeded evaluation questions, the first 25 prompts of each unseen
  set (``test``, ``test_indep``) and the 10 ``seen_probe`` prompts, K=4, T=3, the ``cpu`` recipe (bf16 training),
  evaluated with bf16 weights like the main job (merged adapters keep 294–296 of 300 float32 predictions,
  ``results/bench_adapter_merge.md``, at 1.2–1.3× the speed). Top% also at 80 %, chosen from the pilot (its
  fixed-prompt model reached 83–86 % on unseen prompts) before this run, since SST-2 has no paper threshold.
* ``paper`` — the paper's setting on one GPU: Meta-Llama-3-8B, the ``paper`` recipe (LoRA r8/α16 on q/v, lr 1e-4,
  batch 1 × 8, 20,000 samples), all five Table 1 columns on their full evaluation sets, K=4, T=3, max_out_len 256.
"""

from __future__ import annotations

from dataclasses import dataclass

from paft_ext.configs.recipes import RECIPES
from paft_ext.tasks import TASKS

METHODS = ("base", "fixed", "topacc", "zopo", "batprompt", "paft")
TRAINED = ("fixed", "topacc", "zopo", "batprompt", "paft")
# methods that need what a run may lack: BATprompt an OpenAI-compatible endpoint (--batprompt-config)
NEEDS_ENDPOINT = ("batprompt",)
METHOD_TITLES = {"base": "Base model", "fixed": "User-specified", "topacc": "TopAccuracy", "zopo": "ZOPO",
                 "batprompt": "BATprompt", "paft": "PAFT"}


@dataclass(frozen=True)
class Preset:
    """Everything that decides the numbers of one Table 1 run (saved in ``run.json``; a resumed run must match)."""

    name: str
    recipe: str  # a training recipe (model, template, LoRA, optimiser, batch)
    tasks: tuple[str, ...]
    train_samples: int  # seeded subset of the train split, the same rows for every trained method
    eval_questions: int | None  # seeded subset of the evaluation split (None: all), the same for every prompt
    epochs: int  # T
    window_steps: int  # K
    seed: int
    screen: int  # TopAccuracy: scoring records for every train-pool prompt
    confirm: int  # TopAccuracy: further records for the finalists
    finalists: int
    max_out_len: int
    eval_batch_size: int
    num_gpus: int
    model: str | None = None  # default: the recipe's model
    prompts: int | None = None  # the first N prompts of every set (None: all)
    prompt_sets: tuple[str, ...] = ("test",)  # evaluated prompt sets (shipped names or pool-file paths)
    reachable_top: float | None = None  # a second Top% threshold the model can reach (the task's may be out of reach)
    eval_dtype: str | None = None  # evaluation weights (None: the evaluation's default, float32 on CPU); bfloat16

    def zopo_budget(self, pool_size: int) -> tuple[int, int]:
        """(generations, records per query) of the ZOPO selection: a quarter of what TopAccuracy spends on a pool of
        ``pool_size`` prompts (every prompt on ``screen`` records, the finalists on ``confirm`` more), each query
        scoring one prompt on the ``screen + confirm`` records TopAccuracy judges its winner on."""
        top_accuracy = pool_size * self.screen + self.finalists * self.confirm
        return top_accuracy // 4, self.screen + self.confirm

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"preset {self.name}: unknown task(s) {unknown}; known: {', '.join(TASKS)}")
        if self.recipe not in RECIPES:
            raise ValueError(f"preset {self.name}: unknown recipe {self.recipe!r}; known: {', '.join(RECIPES)}")
        if self.eval_dtype not in (None, "float32", "bfloat16"):
            raise ValueError(f"preset {self.name}: eval_dtype must be float32 or bfloat16, got {self.eval_dtype!r}")


# BATprompt's budget per preset (paft_ext.experiments.batprompt): attacked and scored records, rounds, proposals
# per round; the others use BatSettings' defaults (16 records, 2 rounds, 4 proposals)
BATPROMPT_SETTINGS = {"paper": {"records": 64, "rounds": 3, "proposals": 8}}

PRESETS: dict[str, Preset] = {
    "small": Preset(name="small", recipe="cpu", tasks=("piqa", "winogrande"), train_samples=160, eval_questions=16,
                    epochs=3, window_steps=4, seed=0, screen=4, confirm=24, finalists=8, max_out_len=8,
                    eval_batch_size=8, num_gpus=0),
    "cpu": Preset(name="cpu", recipe="cpu", tasks=("sst2",), train_samples=400, eval_questions=100, epochs=3,
                  window_steps=4, seed=0, screen=4, confirm=24, finalists=8, max_out_len=4, eval_batch_size=8,
                  num_gpus=0, prompts=25, prompt_sets=("test", "test_indep", "seen_probe"), reachable_top=0.80,
                  eval_dtype="bfloat16"),
    "paper": Preset(name="paper", recipe="paper",
                    tasks=("hellaswag", "piqa", "winogrande", "race_middle", "race_high"), train_samples=20000,
                    eval_questions=None, epochs=3, window_steps=4, seed=0, screen=50, confirm=200, finalists=10,
                    max_out_len=256, eval_batch_size=16, num_gpus=1),
}
