"""Where the repository's own files are: one definition for every module that needs the checkout's root, the
shipped prompt pools or the shared data beside it."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_POOLS = REPO_ROOT / "data" / "prompts"  # data/prompts/<pool>/{train,valid,test,...}.jsonl
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"  # the offline benchmark data root of a checkout with ../shared
