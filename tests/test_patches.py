"""The LLaMA-Factory patch points: fail loudly here if upstream changes under us."""

from __future__ import annotations

import dataclasses
import inspect
import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

from paft_ext.llamafactory import patches


def test_supported_version_and_autoload_pth_installed():
    import llamafactory

    assert llamafactory.__version__ in patches.SUPPORTED_LLAMAFACTORY
    pth = [Path(p) / "paft_ext_autoload.pth" for p in site.getsitepackages()]
    assert any(p.is_file() and p.read_text().strip() == "import paft_ext._autoload" for p in pth)
    assert any(type(f).__name__ == "_PaftFinder" for f in sys.meta_path)


def test_a_process_without_a_paft_run_sees_llamafactory_untouched():
    """Only the gate exists until a run touches PAFT: a fresh interpreter that imports the whole training stack
    has no other wrapper, no ``paft`` converter and has not imported the hook."""
    code = ("import sys, llamafactory.train.tuner as t, llamafactory.hparams.parser as p, llamafactory.data.loader "
            "as l, llamafactory.data.converter as c\n"
            "print(getattr(t._training_function, '_paft_wrapped', False), hasattr(p._parse_args, '_paft_wrapped'), "
            "hasattr(l._get_preprocessed_dataset, '_paft_wrapped'), 'paft' in c.DATASET_CONVERTERS, "
            "'paft_ext.llamafactory.hook' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["True", "False", "False", "False", "False"]


def test_activation_wraps_every_target_with_the_expected_signature():
    import llamafactory.data.converter as converter
    import llamafactory.train.tuner  # noqa: F401

    patches.activate()
    for (module_name, attribute), params in patches.SIGNATURES.items():
        wrapped = getattr(sys.modules[module_name], attribute)
        assert getattr(wrapped, "_paft_wrapped", False), f"{module_name}.{attribute} is not patched"
        assert list(inspect.signature(wrapped.__wrapped__).parameters) == params
    assert converter.DATASET_CONVERTERS["paft"].__name__ == "PaftDatasetConverter"
    patches.activate()  # idempotent: nothing wrapped twice
    parser = sys.modules["llamafactory.hparams.parser"]
    assert not getattr(parser._parse_args.__wrapped__, "_paft_wrapped", False)


def test_upstream_behaviour_we_rely_on():
    from llamafactory.data.converter import DatasetConverter, register_dataset_converter
    from llamafactory.data.parser import DatasetAttr, get_dataset_list
    from llamafactory.train.sft.trainer import CustomSeq2SeqTrainer
    from transformers import Trainer

    attr = DatasetAttr("file", dataset_name="x.jsonl")
    attr.join({"formatting": "alpaca", "paft": {"task": "piqa"}})
    assert not hasattr(attr, "paft")  # LLaMA-Factory drops unknown dataset_info keys: paft_ext reads the block
    # ... and finds the dataset again by LLaMA-Factory's attributes of it: equal for the same entry, not for others
    info = {"a": {"file_name": "a.jsonl", "formatting": "paft"}, "b": {"file_name": "b.jsonl", "formatting": "paft"}}
    first, second = get_dataset_list(["a", "b"], info), get_dataset_list(["a", "b"], info)
    assert first == second and first[0] != first[1]
    assert dataclasses.is_dataclass(DatasetConverter)  # the PAFT converter is a dataclass subclass with a post-init
    assert list(inspect.signature(register_dataset_converter).parameters) == ["name", "dataset_converter"]
    # the trace is a forward pre-hook: it needs the micro-batch as keyword arguments of the model's forward
    assert "outputs = model(**inputs)" in inspect.getsource(Trainer.compute_loss)
    assert "disable_shuffling" in inspect.getsource(CustomSeq2SeqTrainer._get_train_sampler)
    # the wrapped globals are looked up by name when called, from the functions that every training run goes through
    import llamafactory.data.loader as loader
    import llamafactory.hparams.parser as parser
    import llamafactory.train.tuner as tuner

    assert "_training_function(config=" in inspect.getsource(tuner.run_exp)
    assert "_parse_args(parser, args" in inspect.getsource(parser._parse_train_args)
    assert inspect.getsource(loader.get_dataset).count("_get_preprocessed_dataset(") == 2  # train and eval
    assert "get_dataset_list(dataset_names, data_args.dataset_dir)" in inspect.getsource(loader._get_merged_dataset)


def test_unsupported_version_is_refused(monkeypatch):
    import llamafactory

    monkeypatch.setattr(llamafactory, "__version__", "0.9.9")
    monkeypatch.delenv("PAFT_EXT_ALLOW_UNSUPPORTED", raising=False)
    with pytest.raises(patches.UnsupportedLlamaFactory, match="supports LLaMA-Factory 0.9.5, found 0.9.9"):
        patches.check_version()
    monkeypatch.setenv("PAFT_EXT_ALLOW_UNSUPPORTED", "1")
    patches.check_version()


def test_unsupported_version_patches_nothing_and_refuses_only_paft_runs(monkeypatch):
    import types

    import llamafactory

    monkeypatch.setattr(llamafactory, "__version__", "0.9.9")
    monkeypatch.delenv("PAFT_EXT_ALLOW_UNSUPPORTED", raising=False)
    tuner = types.ModuleType("llamafactory.train.tuner")
    calls = []
    tuner._training_function = lambda config, extra=None: calls.append(config) or "trained"  # another signature
    patches.install(tuner)
    assert tuner._training_function({"args": {"model_name_or_path": "m"}, "callbacks": []}) == "trained"
    with pytest.raises(patches.UnsupportedLlamaFactory, match="found 0.9.9"):
        tuner._training_function({"args": {"paft_pool": "pool.jsonl"}, "callbacks": []})
    assert len(calls) == 1  # the PAFT run never reached LLaMA-Factory


def test_the_gate_recognises_every_way_a_run_touches_paft(tmp_path):
    from paft_ext.llamafactory.datasets import paft_requested

    (tmp_path / "dataset_info.json").write_text(json.dumps({
        "plain": {"file_name": "p.jsonl"}, "ours": {"file_name": "o.jsonl", "formatting": "paft",
                                                     "paft": {"task": "piqa"}}}))
    built = tmp_path / "tokenized"
    built.mkdir()
    (built / "paft_meta.json").write_text("{}")
    data = str(tmp_path)
    assert not paft_requested({"dataset": "plain", "dataset_dir": data, "tokenized_path": str(tmp_path / "none")})
    assert not paft_requested(["--dataset", "plain", "--dataset_dir", data])
    assert paft_requested({"dataset": "plain", "paft_pool": "x.jsonl"})
    assert paft_requested(["--model_name_or_path", "m", "--paft_pool=x.jsonl"])
    assert paft_requested({"dataset": "plain, ours", "dataset_dir": data})
    assert paft_requested({"dataset": "plain", "eval_dataset": ["ours"], "dataset_dir": data})
    assert paft_requested(["--dataset=plain", "--eval_dataset", "ours", "--dataset_dir", data])
    assert paft_requested({"dataset": "plain", "dataset_dir": data, "tokenized_path": str(built)})
