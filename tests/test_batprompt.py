"""BATprompt end to end against a scripted OpenAI-compatible endpoint: inputs rewritten adversarially, proposals
validated and leak-checked before any is scored, the best scored prompt chosen, every request and generation
counted, and a rerun answered from the cache."""

from __future__ import annotations

import pytest

from paft_ext.benchmark_data.source import Record
from paft_ext.experiments.batprompt import BatSettings, attack_field, select_batprompt
from paft_ext.pools.generation_config import GenerationConfig, GeneratorSpec
from paft_ext.pools.store import Prompt
from paft_ext.tasks import get_task

TEST_PROMPT = "Held-out wording, never trained: {sentence}\nA. {A}\nB. {B}\nWhich letter fits best?"
ROBUST = "Read the review carefully, ignoring typos and asides: {sentence}\nA. {A}\nB. {B}\nAnswer with A or B."
WEAKER = "Quick one. {sentence} -> A. {A} or B. {B}? Reply A or B."


def _records(n: int) -> list[Record]:
    words = ["good fun", "dull mess", "good acting", "boring plot", "good script", "weak ending"]
    return [Record({"sentence": f"review {i}: {words[i % 6]}", "A": "negative", "B": "positive",
                    "answer": "B" if "good" in words[i % 6] else "A"}, f"r{i}") for i in range(n)]


def _base_model(texts: list[str]) -> list[str]:
    """Right on every review when the prompt says 'carefully', else always 'A' (right on the negative ones)."""
    out = []
    for text in texts:
        if "carefully" in text:
            out.append("B" if "good" in text.split("\n")[0] else "A")
        else:
            out.append("A")
    return out


def _reply(request: dict) -> str:
    message = request["messages"][-1]["content"]
    if "Rewrite the following" in message:
        review = message.split("\n\n")[1]
        return f"{review}, lol (typo)"
    if "it answered" in message and "carefully" not in message.split("\n\n")[1]:  # round 1: from the fixed prompt
        return "\n---\n".join(["Missing its review placeholder: A. {A} B. {B}, A or B?", TEST_PROMPT, ROBUST, WEAKER])
    return "\n---\n".join([WEAKER, ROBUST])  # round 2 repeats a scored proposal and offers one more


@pytest.fixture()
def config(fake_api, monkeypatch):
    fake_api.answer = _reply
    monkeypatch.setenv("PAFT_STUB_KEY", "k")
    spec = GeneratorSpec(name="stub", base_url=fake_api.url, model="stub-model", api_key_env="PAFT_STUB_KEY")
    return GenerationConfig(generators=(spec,), concurrency=1, max_retries=0)


def test_the_robust_proposal_wins_and_every_step_is_recorded(config, fake_api, tmp_path):
    task = get_task("sst2")
    assert attack_field(task) == "sentence"
    settings = BatSettings(records=6, rounds=2, proposals=4, errors_shown=2)
    tests = [Prompt("t0", TEST_PROMPT, "test")]
    result = select_batprompt(task, _records(8), _base_model, config, tmp_path / "cache", tests, settings)
    assert result.prompt.text == ROBUST and result.accuracy == 100.0
    assert result.prompt.source.startswith("batprompt: round 1 proposal, by stub (stub-model); 6/6 inputs")
    by_text = {c.text: c for c in reversed(result.candidates)}  # each text's first proposal
    fixed = next(c for c in result.candidates if c.round == 0)
    assert fixed.text == task.baseline_prompt and fixed.accuracy == pytest.approx(100 * 3 / 6)  # 3 of 6 negative
    assert any("missing placeholder" in p for p in by_text["Missing its review placeholder: A. {A} B. {B}, A or B?"]
               .problems)
    assert any(p.startswith("test leakage") for p in by_text[TEST_PROMPT].problems)
    assert by_text[TEST_PROMPT].accuracy is None  # a leaking proposal is never scored
    assert by_text[WEAKER].accuracy == pytest.approx(50.0)
    # generations: the fixed prompt, ROBUST and WEAKER once each (round 2's repeats are not rescored)
    assert result.generations == 6 * 3
    assert result.attacked == 6 and result.llm_requests == 6 + 2 and result.llm_sent == 8
    again = select_batprompt(task, _records(8), _base_model, config, tmp_path / "cache", tests, settings)
    assert again.prompt == result.prompt and again.llm_sent == 0  # every request answered from the cache


def test_without_a_better_proposal_the_fixed_prompt_stays_and_says_so(config, fake_api, tmp_path):
    def reply(request: dict) -> str:
        message = request["messages"][-1]["content"]
        return message.split("\n\n")[1] if "Rewrite the following" in message else "no template here"

    fake_api.answer = reply  # rewrites that change nothing, and no usable proposal
    result = select_batprompt(get_task("sst2"), _records(6), _base_model, config, tmp_path / "c", [],
                              BatSettings(records=6, rounds=1, proposals=2))
    assert result.prompt.text == get_task("sst2").baseline_prompt
    assert "no BATprompt proposal beat it" in result.prompt.source and result.attacked == 0
    assert [c.problems != [] for c in result.candidates] == [False, True]
    with pytest.raises(ValueError, match="needs 7 training records, got 6"):
        select_batprompt(get_task("sst2"), _records(6), _base_model, config, tmp_path / "c", [], BatSettings(7))


def test_local_llm_config_points_at_the_server_and_holds_no_key(tmp_path):
    import importlib.util
    from pathlib import Path

    from paft_ext.pools.generation_config import load_generation_config

    script = Path(__file__).parents[1] / "scripts" / "with_local_llm.py"
    spec = importlib.util.spec_from_file_location("with_local_llm", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path / "cfg" / "local.yaml"
    module.write_config(path, "http://127.0.0.1:41703/v1", 0.7, 400)
    (gen,) = load_generation_config(path).generators
    assert (gen.base_url, gen.model, gen.api_key_env) == ("http://127.0.0.1:41703/v1", "Qwen2.5-Coder-1.5B-Instruct",
                                                          "PAFT_LOCAL_LLM_KEY")
    assert (gen.temperature, gen.max_tokens, gen.name) == (0.7, 400, "qwen-coder-1.5b-t0.7")
    assert "key:" not in path.read_text().replace("api_key_env:", "")
    module.write_config(path, "http://127.0.0.1:41704/v1", 0.7, 400)  # its own file: rewritten
    assert load_generation_config(path).generators[0].base_url == "http://127.0.0.1:41704/v1"
    own = tmp_path / "generators.yaml"
    own.write_text("generators: []\n")
    with pytest.raises(SystemExit, match="was not written by with_local_llm.py"):
        module.write_config(own, "http://127.0.0.1:41703/v1", 0.7, 400)
    assert own.read_text() == "generators: []\n"
