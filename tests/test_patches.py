"""The LLaMA-Factory patch points: fail loudly here if upstream changes under us."""

from __future__ import annotations

import inspect
import site
import sys
from pathlib import Path

import pytest

from paft_ext.train import patches


def test_supported_version_and_autoload_pth_installed():
    import llamafactory

    assert llamafactory.__version__ in patches.SUPPORTED_LLAMAFACTORY
    pth = [Path(p) / "paft_ext_autoload.pth" for p in site.getsitepackages()]
    assert any(p.is_file() and p.read_text().strip() == "import paft_ext._autoload" for p in pth)
    assert any(type(f).__name__ == "_PaftFinder" for f in sys.meta_path)


def test_every_target_is_wrapped_with_the_expected_signature():
    import llamafactory.data
    import llamafactory.data.converter as converter
    import llamafactory.train.tuner  # noqa: F401

    for (module_name, attribute), params in patches.SIGNATURES.items():
        wrapped = getattr(sys.modules[module_name], attribute)
        assert getattr(wrapped, "_paft_wrapped", False), f"{module_name}.{attribute} is not patched"
        assert list(inspect.signature(wrapped.__wrapped__).parameters) == params
    assert llamafactory.data.get_dataset is sys.modules["llamafactory.data.loader"].get_dataset
    assert converter.DATASET_CONVERTERS["paft"].__name__ == "PaftDatasetConverter"


def test_upstream_behaviour_we_rely_on():
    from llamafactory.data.converter import register_dataset_converter
    from llamafactory.data.parser import DatasetAttr
    from llamafactory.train.sft.trainer import CustomSeq2SeqTrainer
    from transformers import Trainer

    attr = DatasetAttr("file", dataset_name="x.jsonl")
    attr.join({"formatting": "alpaca", "paft": {"task": "piqa"}})
    assert not hasattr(attr, "paft")  # LLaMA-Factory drops unknown dataset_info keys: the list wrapper re-attaches
    assert list(inspect.signature(register_dataset_converter).parameters) == ["name", "dataset_converter"]
    # the trace is a forward pre-hook: it needs the micro-batch as keyword arguments of the model's forward
    assert "outputs = model(**inputs)" in inspect.getsource(Trainer.compute_loss)
    assert "disable_shuffling" in inspect.getsource(CustomSeq2SeqTrainer._get_train_sampler)


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
    loader, tuner = types.ModuleType("llamafactory.data.loader"), types.ModuleType("llamafactory.train.tuner")
    loader.get_dataset = get_dataset = object()
    calls = []
    tuner._training_function = lambda config: calls.append(config) or "trained"
    patches.apply(loader)
    patches.apply(tuner)
    assert loader.get_dataset is get_dataset  # nothing wrapped
    assert tuner._training_function({"args": {"model_name_or_path": "m"}, "callbacks": []}) == "trained"
    with pytest.raises(patches.UnsupportedLlamaFactory, match="found 0.9.9"):
        tuner._training_function({"args": {"paft_pool": "pool.jsonl"}, "callbacks": []})
    assert len(calls) == 1  # the PAFT run never reached LLaMA-Factory
