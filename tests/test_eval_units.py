"""Evaluation building blocks: the transformers-5 shim, settings, and the expansion of stock configs."""

from __future__ import annotations

import importlib
import inspect

import pytest
from lf_helpers import write_pool

from paft_ext.evaluation.expand import expand_datasets
from paft_ext.evaluation.settings import EvalSettings, load_settings
from paft_ext.pools.store import PoolError


def test_shim_is_still_needed_and_still_sufficient(tiny_model, default_model_path):
    import opencompass
    from opencompass.models.huggingface_above_v4_33 import HuggingFacewithChatTemplate
    from transformers import AutoTokenizer

    from paft_ext.evaluation.compat import SUPPORTED_OPENCOMPASS, PaftHFChatModel

    assert opencompass.__version__ in SUPPORTED_OPENCOMPASS
    assert not hasattr(type(AutoTokenizer.from_pretrained(tiny_model)), "batch_encode_plus")  # shim needed
    assert "batch_encode_plus" in inspect.getsource(HuggingFacewithChatTemplate.generate)  # ... and still used
    # sufficient: a batch of two prompts of different lengths (left padding) gives the embedded model's greedy answers
    model = PaftHFChatModel(path=str(default_model_path), model_kwargs={"dtype": "float32", "device_map": "cpu"},
                            generation_kwargs={"do_sample": False}, stop_words=["<|im_end|>"])
    out = model.generate(["What is the capital of France?", "What is the capital of Italy? Answer in one word."],
                         max_out_len=10)
    assert out == ["The capital of France is Paris.", "The capital of Italy is Rome."]


def _random_adapter(tiny_model, target):
    """A LoRA adapter on every linear layer of the tiny model with random (non-zero) A and B."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model), config).save_pretrained(target)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(target)
    return target


def test_adapter_is_merged_in_float32(tiny_model, tmp_path):
    import torch
    from opencompass.models.huggingface_above_v4_33 import HuggingFacewithChatTemplate
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from paft_ext.evaluation.compat import PaftHFChatModel

    # the override still replaces upstream's loader: same parameters, called by keyword from __init__
    assert list(inspect.signature(HuggingFacewithChatTemplate._load_model).parameters) == [
        "self", "path", "kwargs", "peft_path", "peft_kwargs"]
    assert "self._load_model(path=path, kwargs=model_kwargs, peft_path=peft_path, peft_kwargs=peft_kwargs)" in \
        inspect.getsource(HuggingFacewithChatTemplate.__init__)
    adapter = _random_adapter(tiny_model, tmp_path / "adapter")

    def load(dtype, merge=True):
        return PaftHFChatModel(path=str(tiny_model), tokenizer_path=str(adapter), peft_path=str(adapter),
                               model_kwargs={"torch_dtype": dtype, "device_map": "cpu"}, merge_adapter=merge,
                               generation_kwargs={"do_sample": False}, stop_words=["<|im_end|>"])

    # bf16: every weight is round_bf16(W + alpha/r * B @ A), the LoRA formula on the raw fp32 files
    merged = load("bfloat16").model
    assert not isinstance(merged, PeftModel) and merged.dtype == torch.bfloat16
    base = load_file(str(tiny_model / "model.safetensors"))
    lora = load_file(str(adapter / "adapter_model.safetensors"))
    name = "model.layers.1.self_attn.q_proj"
    a, b = lora[f"base_model.model.{name}.lora_A.weight"], lora[f"base_model.model.{name}.lora_B.weight"]
    assert b.abs().sum() > 0  # a no-op adapter would pass any merge
    expected = (base[f"{name}.weight"] + 8 / 4 * b @ a).to(torch.bfloat16)
    assert torch.equal(merged.get_submodule(name).weight, expected)
    assert not torch.equal(expected, base[f"{name}.weight"].to(torch.bfloat16))

    kept = load("bfloat16", merge=False).model  # merge_adapters: false keeps peft's wrapper (e.g. quantised bases)
    assert isinstance(kept, PeftModel) and kept.dtype == torch.bfloat16

    # fp32: the merged model computes what peft's wrapper computes
    fp32 = load("float32")
    wrapped = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(adapter)).eval()
    ids = torch.tensor([[1, 5, 9, 300, 42, 7]])
    with torch.no_grad():
        assert torch.allclose(fp32.model(ids).logits, wrapped(ids).logits, atol=1e-5)
        with wrapped.disable_adapter():
            assert not torch.allclose(wrapped(ids).logits, fp32.model(ids).logits, atol=1e-3)


def _ops(layer, x) -> set[str]:
    """The aten operators one no-grad forward of ``layer`` on ``x`` runs."""
    import torch
    from torch.profiler import profile

    with torch.no_grad(), profile() as prof:
        layer(x)
    return {event.key for event in prof.key_averages()}


def test_output_layer_gets_a_contiguous_input(tiny_model, tmp_path):
    import torch

    from paft_ext.evaluation.compat import PaftHFChatModel

    # upstream: a frozen weight and the strided last-position slice generate() takes go to a batched product that
    # copies the weight per row; a weight that requires grad folds into one mm (fails when torch changes this)
    layer = torch.nn.Linear(16, 1000, bias=False).requires_grad_(False)
    last = torch.randn(4, 3, 16)[:, -1:, :]
    assert not last.is_contiguous()
    assert "aten::bmm" in _ops(layer, last)
    assert "aten::bmm" not in _ops(layer.requires_grad_(True), last)

    # the fix: an evaluated adapter (peft froze its weights) gets a contiguous input, one mm, the same logits
    adapter = _random_adapter(tiny_model, tmp_path / "adapter")
    model = PaftHFChatModel(path=str(tiny_model), tokenizer_path=str(adapter), peft_path=str(adapter),
                            model_kwargs={"torch_dtype": "float32", "device_map": "cpu"},
                            generation_kwargs={"do_sample": False}, stop_words=["<|im_end|>"]).model
    head = model.get_output_embeddings()
    assert not head.weight.requires_grad
    hidden = torch.randn(4, 3, head.in_features)[:, -1:, :]
    ops = _ops(head, hidden)
    assert "aten::bmm" not in ops and "aten::mm" in ops
    with torch.no_grad():
        assert torch.allclose(head(hidden), hidden.contiguous() @ head.weight.T, atol=1e-6)


def test_settings_from_env_and_file(tmp_path):
    settings_file = tmp_path / "eval.yaml"
    settings_file.write_text("tasks: [piqa]\nprompts: 5\nadapters: {paft: saves/x}\n")
    s = load_settings({"PAFT_EVAL_SETTINGS": str(settings_file), "PAFT_EVAL_QUESTIONS": "100"})
    assert (s.tasks, s.prompts, s.questions, s.adapters) == (("piqa",), 5, 100, {"paft": "saves/x"})
    s = load_settings({"PAFT_EVAL_TASKS": "piqa,race_high", "PAFT_EVAL_ADAPTERS": "a=x,b=y",
                       "PAFT_EVAL_INCLUDE_BASE": "0"})
    assert s.tasks == ("piqa", "race_high") and s.adapters == {"a": "x", "b": "y"} and not s.include_base
    with pytest.raises(ValueError, match="unknown task"):
        load_settings({"PAFT_EVAL_TASKS": "piqa,mmlu"})
    settings_file.write_text("task: [piqa]\n")
    with pytest.raises(ValueError, match="unknown key.*task;"):
        load_settings({"PAFT_EVAL_SETTINGS": str(settings_file)})


def _pool(root, name, texts):
    (root / name).mkdir()
    return write_pool(root / name / "test.jsonl", texts)


def _stock(module: str, name: str) -> list:
    return getattr(importlib.import_module(module), name)


def test_expansion_replaces_the_prompt_per_copy(tmp_path):
    texts = ["Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "Pick one. {goal} (A) {sol1} (B) {sol2}",
             "{goal}\n[A] {sol1}\n[B] {sol2}\nLetter:"]
    _pool(tmp_path, "piqa", texts)
    settings = EvalSettings(tasks=("piqa",), prompts=2, questions=7, pool_root=str(tmp_path))
    stock = _stock("opencompass.configs.datasets.piqa.piqa_gen_1194eb", "piqa_datasets")
    expanded = expand_datasets(stock, "piqa", settings)
    assert [d["abbr"] for d in expanded] == ["piqa_p00", "piqa_p01"]
    assert [d["infer_cfg"]["prompt_template"]["template"]["round"][-1]["prompt"] for d in expanded] == texts[:2]
    assert all(d["infer_cfg"]["inferencer"]["dump_timer"] and d["reader_cfg"]["test_range"] == "[:7]" for d in expanded)
    # the two ways OpenCompass 0.5.4 reads test_range: the reader's index list and the partitioner's size
    from datasets import Dataset
    from opencompass.openicl.icl_dataset_reader import load_partial_dataset

    assert len(load_partial_dataset(Dataset.from_dict({"x": list(range(20))}), size="[:7]")) == 7
    assert eval("len(range(20)" + expanded[0]["reader_cfg"]["test_range"] + ")") == 7
    assert stock[0]["infer_cfg"]["prompt_template"]["template"]["round"][-1]["prompt"].startswith("{goal}\nA.")
    assert expand_datasets(stock, "winogrande", settings) == []


def test_race_expansion_keeps_its_half_and_gsm8k_gets_the_number_rule(tmp_path):
    _pool(tmp_path, "race", ["Article: {article}\nQ: {question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"])
    _pool(tmp_path, "gsm8k", ["Solve: {question}\nAnswer:"])
    settings = EvalSettings(tasks=("race_high", "gsm8k"), pool_root=str(tmp_path), max_out_len=37)
    race = expand_datasets(_stock("opencompass.configs.datasets.race.race_gen_69ee4f", "race_datasets"),
                           "race_high", settings)
    assert [d["abbr"] for d in race] == ["race-high_p00"]
    gsm = expand_datasets(_stock("opencompass.configs.datasets.gsm8k.gsm8k_0shot_gen_a58960", "gsm8k_datasets"),
                          "gsm8k", settings)
    assert gsm[0]["eval_cfg"]["pred_postprocessor"] == {"type": "paft_ext.tasks.answers.extract_number"}
    # the stock GSM8K inferencer fixes 512 tokens; the user's length wins for every dataset
    assert gsm[0]["infer_cfg"]["inferencer"]["max_out_len"] == race[0]["infer_cfg"]["inferencer"]["max_out_len"] == 37


def test_template_missing_a_field_is_refused(tmp_path):
    _pool(tmp_path, "piqa", ["Goal: {goal}\nA. {sol1}\nAnswer:"])
    stock = _stock("opencompass.configs.datasets.piqa.piqa_gen_1194eb", "piqa_datasets")
    with pytest.raises(PoolError, match=r"missing placeholder\(s\) \{sol2\}"):
        expand_datasets(stock, "piqa", EvalSettings(tasks=("piqa",), pool_root=str(tmp_path)))


def test_models_share_the_adapters_chat_template_and_settings(tiny_model, tmp_path):
    import shutil

    from paft_ext.evaluation.run_config import models

    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_model, adapter)
    (adapter / "adapter_config.json").write_text("{}")
    settings = EvalSettings(model=str(tiny_model), adapters={"paft": str(adapter)}, max_out_len=8)
    base, paft = models(settings)
    assert (base["abbr"], paft["abbr"], paft["peft_path"]) == ("base", "paft", str(adapter))
    assert "peft_path" not in base and base["tokenizer_path"] == paft["tokenizer_path"] == str(adapter)
    same = ("max_out_len", "min_out_len", "batch_size", "generation_kwargs", "stop_words", "meta_template")
    assert all(base[k] == paft[k] for k in same) and base["stop_words"] == ["<|im_end|>"]
    with pytest.raises(FileNotFoundError, match="has no adapter_config.json"):
        models(EvalSettings(model=str(tiny_model), adapters={"x": str(tmp_path)}))


def test_prompt_sets_expand_with_their_own_abbreviations(tmp_path):
    from paft_ext.evaluation.prompt_sets import parse_abbr

    _pool(tmp_path, "piqa", ["Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:"])
    write_pool(tmp_path / "piqa" / "test_indep.jsonl", ["Which works? {goal} (A) {sol1} (B) {sol2}",
                                                        "{goal}\n[A] {sol1}\n[B] {sol2}\nLetter:"])
    write_pool(tmp_path / "piqa" / "seen_probe.jsonl", ["Pick one. {goal} (A) {sol1} (B) {sol2}"])
    mine = tmp_path / "my-set.jsonl"
    write_pool(mine, ["Mine: {goal} A) {sol1} B) {sol2}"])
    settings = EvalSettings(tasks=("piqa",), pool_root=str(tmp_path),
                            prompt_sets=("test", "test_indep", "seen_probe", str(mine)))
    expanded = expand_datasets(_stock("opencompass.configs.datasets.piqa.piqa_gen_1194eb", "piqa_datasets"), "piqa",
                               settings)
    abbrs = [d["abbr"] for d in expanded]
    assert abbrs == ["piqa_p00", "piqa_indep_p00", "piqa_indep_p01", "piqa_seen_p00", "piqa_myset_p00"]
    assert expanded[2]["infer_cfg"]["prompt_template"]["template"]["round"][-1]["prompt"].endswith("Letter:")
    assert [parse_abbr(a)[1:] for a in abbrs] == [("", 0), ("indep", 0), ("indep", 1), ("seen", 0), ("myset", 0)]
    assert parse_abbr("race-high_llm_p12")[0].name == "race_high" and parse_abbr("piqa") is None
    with pytest.raises(ValueError, match="neither a shipped set"):
        EvalSettings(tasks=("piqa",), prompt_sets=("tset",))
    with pytest.raises(ValueError, match="each once"):
        EvalSettings(tasks=("piqa",), prompt_sets=("test", "test"))
    assert load_settings({"PAFT_EVAL_PROMPT_SETS": "test, seen_probe"}).prompt_sets == ("test", "seen_probe")


@pytest.mark.parametrize(("template", "rendered", "ok"), [
    ("Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "Goal: fix a tyre\nA. glue\nB. patch\nAnswer:", True),
    ("Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "Goal: fix a tyre\nA. glue\nB. patch\nLetter:", False),
    ("Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "Aim: fix a tyre\nA. glue\nB. patch\nAnswer:", False),
    ("{goal} (A) {sol1} (B) {sol2}", "x (B) y (A) z (A) w (B) v", True),  # field values may contain the pieces
    ("{goal} (A) {sol1} (B) {sol2}", "x (B) y", False),
])
def test_rendered_prompt_is_traced_to_its_template(template, rendered, ok):
    from paft_ext.evaluation.prompt_sets import template_matches

    assert template_matches(template, rendered) is ok


def test_summary_per_prompt_set_and_the_seen_unseen_gap():
    from paft_ext.evaluation.prompt_results import PromptResult
    from paft_ext.evaluation.report import markdown, seen_unseen_gaps, summarise

    def result(prompt_set: str, k: int, accuracy: float) -> PromptResult:
        return PromptResult("m", "piqa", k, f"{prompt_set}-{k}", accuracy, 10, 0.0, None, None, None, "", prompt_set)

    results = [result("seen_probe", 0, 90), result("seen_probe", 1, 70), result("test", 0, 60), result("test", 1, 50),
               result("test", 2, 40), result("test_indep", 0, 30)]
    rows = summarise(results, expected={("piqa", "test"): 3, ("piqa", "test_indep"): 2})
    by_set = {r["prompt_set"]: r for r in rows if r["task"] == "piqa"}
    assert by_set["seen_probe"]["mean"] == 80 and by_set["test"]["mean"] == 50
    assert by_set["test"]["std_pop"] == pytest.approx((200 / 3) ** 0.5) and by_set["test"]["worst_prompt"] == "test-2"
    assert by_set["test_indep"]["partial"] and not by_set["test"]["partial"]
    assert {(r["task"], r["prompt_set"]) for r in rows if r["task"] == "AVERAGE"} == {
        ("AVERAGE", s) for s in ("seen_probe", "test", "test_indep")}
    assert {g["unseen_set"]: g["gap"] for g in seen_unseen_gaps(rows)} == {"test": 30.0, "test_indep": 50.0}
    assert "| m | piqa | test_indep | 80.00 | 30.00 | +50.00 |" in markdown(rows)


def test_top_share_counts_prompts_above_the_threshold_as_the_paper_defines_it():
    from paft_ext.evaluation.prompt_results import PromptResult
    from paft_ext.evaluation.report import markdown, summarise

    # PIQA's threshold is 85%: one prompt above it, one exactly at it, one below.
    results = [PromptResult("m", "piqa", k, f"p{k}", acc, 20, 0.0, None, None, None) for k, acc in
               enumerate((90.0, 85.0, 80.0))]
    (strict,) = [r for r in summarise(results) if r["task"] == "piqa"]
    (inclusive,) = [r for r in summarise(results, inclusive=True) if r["task"] == "piqa"]
    assert strict["top_pct"] == pytest.approx(100 / 3) and inclusive["top_pct"] == pytest.approx(200 / 3)
    assert "accuracy > the task threshold" in markdown([strict])
    assert "accuracy ≥ the task threshold" in markdown([inclusive], inclusive=True)
