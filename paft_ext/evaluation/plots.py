"""Plots of per-prompt accuracy (PNG): the distribution per model (like the paper's Figures 4-5) and a heat map of
prompts × models, one of each per benchmark."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from paft_ext.tasks import TASKS  # noqa: E402


def plot_all(results, out: Path) -> list[Path]:
    """Two plots per (benchmark, prompt set): ``<task>_*.png`` for the test set, ``<task>_<set>_*.png`` for others."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task, prompt_set in sorted({(r.task, r.prompt_set) for r in results}):
        mine = [r for r in results if (r.task, r.prompt_set) == (task, prompt_set)]
        models = sorted({r.model for r in mine})
        prompts = sorted({r.prompt_index for r in mine})
        grid = np.full((len(prompts), len(models)), np.nan)
        for r in mine:
            grid[prompts.index(r.prompt_index), models.index(r.model)] = r.accuracy
        stem = task if prompt_set == "test" else f"{task}_{Path(prompt_set).stem}"
        label = f"{prompt_set} prompts" if prompt_set != "test" else "unseen test prompts"
        written.append(_distribution(task, label, models, grid, out / f"{stem}_distribution.png"))
        written.append(_heatmap(task, label, models, prompts, grid, out / f"{stem}_heatmap.png"))
    return written


def _distribution(task: str, label: str, models: list[str], grid: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(models), 4))
    columns = [grid[~np.isnan(grid[:, j]), j] for j in range(len(models))]
    ax.boxplot(columns, showfliers=False)
    ax.set_xticks(range(1, len(models) + 1), models, rotation=20)
    rng = np.random.default_rng(0)
    for j, values in enumerate(columns, start=1):
        ax.scatter(j + rng.uniform(-0.15, 0.15, len(values)), values, s=12, alpha=0.6)
    threshold = 100 * TASKS[task].top_threshold
    ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"Top threshold {threshold:.0f}%")
    ax.set_ylabel("accuracy per test prompt (%)")
    ax.set_title(f"{TASKS[task].title}: accuracy over {grid.shape[0]} {label}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _heatmap(task: str, label: str, models: list[str], prompts: list[int], grid: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(2.5 + 1.2 * len(models), 1.5 + 0.18 * len(prompts)))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=100)
    ax.set_xticks(range(len(models)), models, rotation=20)
    ax.set_yticks(range(len(prompts)), [f"p{p:02d}" for p in prompts], fontsize=6)
    ax.set_title(f"{TASKS[task].title}: accuracy (%) per prompt and model ({label})")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
