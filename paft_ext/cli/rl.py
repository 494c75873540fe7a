"""``paft-ext rl``: GRPO with PAFT prompts (:mod:`paft_ext.rl`) from a YAML."""

from __future__ import annotations

import argparse


def _cmd_rl(args: argparse.Namespace) -> None:
    from paft_ext.rl.runner import train_grpo

    print(f"adapter: {train_grpo(args.config)}")


def add_rl_command(sub: argparse._SubParsersAction, tf: list[argparse.ArgumentParser]) -> None:
    rl = sub.add_parser("rl", parents=tf,
                          help="GRPO with PAFT prompts (TRL GRPOTrainer + LoRA) from a YAML")
    rl.add_argument("config", help="GRPO YAML, e.g. yaml/sst2/cpu_paft_grpo.yaml")
    rl.set_defaults(func=_cmd_rl)
