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
    from llamafactory.data.parser import DatasetAttr
    from llamafactory.train.sft.trainer import CustomSeq2SeqTrainer

    attr = DatasetAttr("file", dataset_name="x.jsonl")
    attr.join({"formatting": "alpaca", "paft": {"task": "piqa"}})
    assert not hasattr(attr, "paft")  # LLaMA-Factory drops unknown dataset_info keys: the list wrapper re-attaches
    assert list(inspect.signature(CustomSeq2SeqTrainer.training_step).parameters)[:3] == ["self", "model", "inputs"]
    assert "disable_shuffling" in inspect.getsource(CustomSeq2SeqTrainer._get_train_sampler)


def test_unsupported_version_is_refused(monkeypatch):
    import llamafactory

    monkeypatch.setattr(llamafactory, "__version__", "0.9.9")
    monkeypatch.delenv("PAFT_EXT_ALLOW_UNSUPPORTED", raising=False)
    with pytest.raises(patches.UnsupportedLlamaFactory, match="supports LLaMA-Factory 0.9.5, found 0.9.9"):
        patches.check_version()
    monkeypatch.setenv("PAFT_EXT_ALLOW_UNSUPPORTED", "1")
    patches.check_version()
