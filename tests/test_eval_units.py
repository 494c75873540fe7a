"""Evaluation building blocks: the transformers-5 shim, settings, and the expansion of stock configs."""

from __future__ import annotations

import importlib
import inspect

import pytest
from lf_helpers import write_pool

from paft_ext.evaluation.expand import expand_datasets
from paft_ext.evaluation.settings import EvalSettings, load_settings
from paft_ext.pools.store import PoolError


def test_shim_is_still_needed_and_still_sufficient(tiny_model):
    import opencompass
    from opencompass.models.huggingface_above_v4_33 import HuggingFacewithChatTemplate
    from transformers import AutoTokenizer

    from paft_ext.evaluation.compat import SUPPORTED_OPENCOMPASS, PaftHFChatModel

    assert opencompass.__version__ in SUPPORTED_OPENCOMPASS
    assert not hasattr(type(AutoTokenizer.from_pretrained(tiny_model)), "batch_encode_plus")  # shim needed
    assert "batch_encode_plus" in inspect.getsource(HuggingFacewithChatTemplate.generate)  # ... and still used
    model = PaftHFChatModel(path=str(tiny_model), model_kwargs={"torch_dtype": "float32", "device_map": "cpu"},
                            generation_kwargs={"do_sample": False})
    out = model.generate(["Question: 1+1?\nAnswer:", "Say A or B."], max_out_len=3)
    assert len(out) == 2 and all(isinstance(o, str) for o in out)


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
    settings = EvalSettings(tasks=("race_high", "gsm8k"), pool_root=str(tmp_path))
    race = expand_datasets(_stock("opencompass.configs.datasets.race.race_gen_69ee4f", "race_datasets"),
                           "race_high", settings)
    assert [d["abbr"] for d in race] == ["race-high_p00"]
    gsm = expand_datasets(_stock("opencompass.configs.datasets.gsm8k.gsm8k_0shot_gen_a58960", "gsm8k_datasets"),
                          "gsm8k", settings)
    assert gsm[0]["eval_cfg"]["pred_postprocessor"] == {"type": "paft_ext.tasks.answers.extract_number"}


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
