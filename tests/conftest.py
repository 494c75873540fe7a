"""Shared fixtures: the real offline data root and the converted default model."""

from __future__ import annotations

from pathlib import Path

import pytest

from paft_ext.adapters.source import data_root

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_root() -> Path:
    root = data_root()
    if root is None:
        pytest.fail("no local data root: put ../shared/data beside the repo or set PAFT_DATA_ROOT")
    return root


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    from paft_ext import default_model

    return default_model.ensure()
