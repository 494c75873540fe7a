"""One check and one wording for a mapping's unknown keys, shared by every reader of user settings (PAFT YAML keys,
GRPO YAMLs, task files, evaluation settings, generator files): a typo is refused with what was wrong and what is
allowed, never ignored."""

from __future__ import annotations

from collections.abc import Iterable


def unknown_keys(given: Iterable[object], known: Iterable[str], prefix: str = "") -> str | None:
    """``"unknown key(s) …; known: …"`` for the keys of ``given`` not in ``known`` (both listed sorted, each with
    ``prefix``), or None when every key is known."""
    allowed = set(known)
    unknown = sorted(set(map(str, given)) - allowed)
    if not unknown:
        return None
    return (f"unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"known: {', '.join(prefix + k for k in sorted(allowed))}")
