"""Length-sorted micro-batches: the model sees batches of similar length and at most micro_batch_size prompts, and
returns the outputs in the order it was given — checked with a recording stand-in and with the real OpenCompass
model class on the tiny model against prompts generated one at a time."""

from __future__ import annotations

import pytest

from paft_ext.evaluation.run_config import SORT_CHUNK, models
from paft_ext.evaluation.settings import EvalSettings
from paft_ext.evaluation.sorted_batches import LengthSortedGeneration


class _Recorder:
    def __init__(self, **kwargs) -> None:
        self.calls: list[list[str]] = []

    def get_token_len(self, prompt: str) -> int:
        return len(prompt)

    def generate(self, inputs, max_out_len, **kwargs):
        self.calls.append(list(inputs))
        return [f"out:{p}" for p in inputs]


class _Sorted(LengthSortedGeneration, _Recorder):
    pass


def test_micro_batches_are_length_sorted_and_outputs_keep_the_input_order():
    prompts = ["x" * n for n in (5, 1, 9, 3, 3, 7, 2, 8)]
    model = _Sorted(micro_batch_size=3)
    assert model.generate(prompts, 4) == [f"out:{p}" for p in prompts]
    assert [[len(p) for p in call] for call in model.calls] == [[1, 2, 3], [3, 5, 7], [8, 9]]
    unsorted = _Sorted()
    unsorted.generate(prompts, 4)
    assert unsorted.calls == [prompts]  # off: one call, as OpenCompass batched it


def test_the_setting_turns_into_chunk_and_micro_batch(tiny_model):
    base = {"model": str(tiny_model), "tasks": ("sst2",), "batch_size": 6}
    (config,) = models(EvalSettings(**base, length_sorted=True))
    assert (config["batch_size"], config["micro_batch_size"]) == (6 * SORT_CHUNK, 6)
    (plain,) = models(EvalSettings(**base))
    assert plain["batch_size"] == 6 and "micro_batch_size" not in plain
    with pytest.raises(ValueError, match="PAFT_EVAL_LENGTH_SORTED: sorts the hf backend's batches"):
        EvalSettings(**base, length_sorted=True, backend="vllm")


def test_the_real_chat_model_returns_what_one_prompt_at_a_time_returns(default_model_path):
    from paft_ext.evaluation.compat import PaftHFChatModel
    from paft_ext.evaluation.run_config import BYTE_EXACT_META

    model = PaftHFChatModel(path=str(default_model_path), model_kwargs={"torch_dtype": "float32", "device_map": "cpu"},
                            generation_kwargs={"do_sample": False}, meta_template=BYTE_EXACT_META,
                            micro_batch_size=3)
    words = ("apple", "river", "seven", "green", "castle", "piano", "moon")
    prompts = [f"{'Please read carefully. ' * n}Write the word {w} in capital letters."
               for n, w in zip((9, 0, 5, 1, 14, 3, 0), words, strict=True)]
    batched = model.generate(prompts, max_out_len=4)
    model.micro_batch_size = None
    assert len(set(batched)) > 2  # outputs differ by prompt, so an order mix-up would show
    assert batched == [model.generate([p], max_out_len=4)[0] for p in prompts]
