"""ZOPO (Hu et al. 2024, arXiv 2403.02993): localized zeroth-order prompt optimisation over a finite candidate set.

The paper's strongest Table 1 baseline. The candidates are prompts with fixed embeddings; the black box is a
prompt's measured accuracy. ZOPO fits a Gaussian process whose kernel is the empirical neural tangent kernel (NTK)
of a small randomly initialised network, ``k(x, x') = <∂f(x)/∂θ, ∂f(x')/∂θ>``, on the queried prompts nearest to
the current one (inputs scaled to their local bounding box), and climbs the GP posterior mean's input gradient:

1. start: ``initial`` random candidates are queried; the search starts at the best of them;
2. each round: fit the GP around the current point, take an Adam step along ∇μ, project onto the nearest candidate
   not queried yet and repeat while the posterior variance there stays under ``uncertainty`` (at most ``max_steps``
   steps), then query where it ended;
3. when the variance stays high for ``uncertainty_rounds`` rounds, or the gradient vanishes, query the ``neighbors``
   nearest unqueried candidates instead (local exploration: the gradient estimate needs data nearby);
4. after ``tolerance`` rounds without a new best, restart from the best point found.

Every query spends one unit of ``budget``; the best queried candidate is returned with every query's value. This is
an implementation from the paper's description (its update and projection), not the authors' code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class ZopoOptions:
    initial: int = 8
    learning_rate: float = 0.1
    max_steps: int = 5
    gp_points: int = 20
    uncertainty: float = 0.1  # posterior variance (relative to the prior's) above which a step is not trusted
    uncertainty_rounds: int = 3
    neighbors: int = 3
    tolerance: int = 3
    noise: float = 1e-2  # GP observation noise (relative to the kernel's scale)
    width: int = 32
    depth: int = 2


@dataclass
class ZopoResult:
    best: int
    queries: list[tuple[int, float]] = field(default_factory=list)  # (candidate, value) in query order
    explorations: int = 0  # rounds that fell back to local exploration


class _NTKGaussianProcess:
    """GP regression with the empirical NTK of one random MLP ``R^d -> R`` (seeded, never trained)."""

    def __init__(self, dim: int, options: ZopoOptions, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        layers, width = [], dim
        for _ in range(options.depth):
            layers.append(torch.randn(options.width, width, generator=generator, dtype=torch.float64)
                          / np.sqrt(width))
            width = options.width
        layers.append(torch.randn(1, width, generator=generator, dtype=torch.float64) / np.sqrt(width))
        self.params = [p.requires_grad_() for p in layers]
        self.noise = options.noise

    def _output(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for weight in self.params[:-1]:
            h = torch.relu(h @ weight.T)
        return (h @ self.params[-1].T).squeeze(-1)

    def _features(self, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """∂f(x)/∂θ, flattened (one row per input)."""
        rows = []
        for point in x:
            grads = torch.autograd.grad(self._output(point[None])[0], self.params, create_graph=create_graph)
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        return torch.stack(rows)

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = torch.as_tensor(x, dtype=torch.float64)
        self.features = self._features(self.x).detach()
        kernel = self.features @ self.features.T
        self.scale = float(kernel.diagonal().mean())
        self.y_mean = float(y.mean())
        system = kernel + self.noise * self.scale * torch.eye(len(x), dtype=torch.float64)
        self.solve = torch.linalg.cholesky(system)
        residual = torch.as_tensor(y - self.y_mean, dtype=torch.float64)[:, None]
        self.alpha = torch.cholesky_solve(residual, self.solve)[:, 0]

    def mean_and_gradient(self, point: np.ndarray) -> tuple[float, np.ndarray, float]:
        """Posterior mean, its input gradient and the posterior variance relative to the prior's, at ``point``."""
        x = torch.as_tensor(point, dtype=torch.float64).clone().requires_grad_()
        feature = self._features(x[None], create_graph=True)[0]
        cross = self.features @ feature
        mean = self.y_mean + cross @ self.alpha
        (gradient,) = torch.autograd.grad(mean, x)
        with torch.no_grad():
            prior = feature @ feature
            variance = prior - cross @ torch.cholesky_solve(cross[:, None], self.solve)[:, 0]
        return float(mean.detach()), gradient.numpy(), float(variance / max(float(prior), 1e-12))


def zopo_search(embeddings: np.ndarray, evaluate: Callable[[int], float], budget: int, seed: int = 0,
                options: ZopoOptions = ZopoOptions()) -> ZopoResult:
    """Maximise ``evaluate(i)`` over the candidates ``embeddings[i]`` with at most ``budget`` queries."""
    n = len(embeddings)
    if budget < 1 or n < 1:
        raise ValueError(f"ZOPO needs a budget and candidates, got budget {budget} and {n} candidates")
    rng = np.random.default_rng(seed)
    result = ZopoResult(best=-1)
    values: dict[int, float] = {}

    def query(i: int) -> None:
        values[i] = float(evaluate(i))
        result.queries.append((i, values[i]))

    for i in rng.permutation(n)[: min(options.initial, budget, n)]:
        query(int(i))
    gp = _NTKGaussianProcess(embeddings.shape[1], options, seed)
    current = max(values, key=values.get)
    best, stale, uncertain = values[current], 0, 0
    while len(values) < min(budget, n):
        unqueried = np.array([i for i in range(n) if i not in values])
        near = sorted(values, key=lambda i: float(np.linalg.norm(embeddings[i] - embeddings[current])))
        local = np.array(near[: options.gp_points])
        low, high = embeddings[local].min(axis=0), embeddings[local].max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        gp.fit((embeddings[local] - low) / span, np.array([values[i] for i in local]))
        point = (embeddings[current] - low) / span
        moment, second = np.zeros_like(point), np.zeros_like(point)
        target, steps, variance = current, 0, 0.0
        for steps in range(1, options.max_steps + 1):
            _, gradient, variance = gp.mean_and_gradient(point)
            if steps == 1:
                uncertain = uncertain + 1 if variance > options.uncertainty else 0
            if not np.any(gradient) or uncertain >= options.uncertainty_rounds:
                target = -1
                break
            moment = 0.9 * moment + 0.1 * gradient  # Adam ascent on the posterior mean
            second = 0.999 * second + 0.001 * gradient**2
            step = moment / (1 - 0.9**steps) / (np.sqrt(second / (1 - 0.999**steps)) + 1e-8)
            moved = point + options.learning_rate * step
            candidates = (embeddings[unqueried] - low) / span
            target = int(unqueried[np.argmin(np.linalg.norm(candidates - moved, axis=1))])
            point = (embeddings[target] - low) / span
            if variance > options.uncertainty:
                break
        if target < 0:  # local exploration around the current point
            result.explorations += 1
            uncertain = 0
            order = unqueried[np.argsort(np.linalg.norm(embeddings[unqueried] - embeddings[current], axis=1))]
            for i in order[: options.neighbors]:
                if len(values) < min(budget, n):
                    query(int(i))
            target = max(values, key=values.get)
        else:
            query(target)
        if values[target] > best:
            best, stale, current = values[target], 0, target
        else:
            stale += 1
            current = target
            if stale > options.tolerance:
                current, stale = max(values, key=values.get), 0
    result.best = max(values, key=lambda i: (values[i], -i))
    return result


def prompt_embeddings(model: str, texts: list[str], batch_size: int = 16) -> np.ndarray:
    """The candidates' embeddings: the base model's last hidden states mean-pooled over each template's tokens
    (placeholders as written), L2-normalised — the model that is scored also places the prompts."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    gpu = torch.cuda.is_available()  # an 8B model is embedded on the GPU in bf16, the embedded model on the CPU
    network = AutoModel.from_pretrained(model, dtype=torch.bfloat16 if gpu else torch.float32).eval()
    network.to("cuda" if gpu else "cpu")
    rows = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True).to(network.device)
            hidden = network(**batch).last_hidden_state
            mask = batch["attention_mask"][..., None].to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            rows.append(torch.nn.functional.normalize(pooled.float(), dim=-1).double().cpu().numpy())
    return np.concatenate(rows)
