"""requirements/lock.txt pins every package of the environment the tests run in, at the version installed."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements" / "lock.txt"
UNLOCKED = {"paft-ext", "pip", "setuptools", "wheel"}  # the package itself, and pip's own tools


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_installed_package_is_locked_at_its_installed_version():
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{LOCK}: {line!r} is not an exact pin"
            pins[_norm(name)] = version
    installed = {_norm(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unlocked = sorted(set(installed) - set(pins) - UNLOCKED)
    assert unlocked == [], f"installed but not in {LOCK.name}: {unlocked}; run scripts/refresh_lock.sh"
    differ = {n: (installed[n], v) for n, v in pins.items() if n in installed and installed[n] != v}
    assert differ == {}, f"installed versions differ from {LOCK.name}: {differ}"
    assert {"torch", "llamafactory", "opencompass", "transformers"} <= set(pins)
