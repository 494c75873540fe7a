"""The structure-evidence driver's own logic: its variant files are valid, distinct prompt sets built by
``pools perturb``, and its summary and goal checks compute what structure.md states."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from paft_ext.evaluation.prompt_sets import parse_prompt_sets
from paft_ext.pools.store import load_pool
from paft_ext.tasks import get_task

SCRIPT = Path(__file__).parents[1] / "scripts" / "structure_evidence.py"


@pytest.fixture(scope="module")
def driver():
    spec = importlib.util.spec_from_file_location("structure_evidence", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variant_files_are_distinct_prompt_sets_of_the_first_prompts(driver, tmp_path, shared_root):
    files = driver.variant_files("sst2", ("test", "test_indep"), 2, tmp_path)
    assert [driver.kind_of(str(f)) for f in files] == [(s, k) for s in ("test", "test_indep") for k in driver.KINDS]
    parse_prompt_sets([str(f) for f in files])  # every file gets its own dataset tag (none clashes with "test")
    fields = get_task("sst2").fields
    shipped = load_pool(Path("data/prompts/sst2/test.jsonl"), fields)[:2]
    assert [p.text for p in load_pool(files[0], fields)] == [p.text for p in shipped]
    assert len(load_pool(files[4], fields)) == 4  # circular: 2 prompts × 2 rotations
    symbols = load_pool(files[2], fields)
    assert all(p.symbols for p in symbols) and {p.text for p in symbols}.isdisjoint(p.text for p in shipped)
    before = files[0].stat().st_mtime_ns
    driver.variant_files("sst2", ("test", "test_indep"), 2, tmp_path)  # built once: a rerun writes nothing
    assert files[0].stat().st_mtime_ns == before


def _row(seed, arm, kind, mean, circular=None, unseen="test"):
    return {"seed": seed, "arm": arm, "unseen_set": unseen, "kind": kind, "mean": mean, "circular_accuracy": circular}


def test_summary_and_goals(driver):
    rows = [_row(0, "PAFT", "shipped", 90.0), _row(1, "PAFT", "shipped", 88.0),
            _row(0, "PAFT + structure", "shipped", 89.0), _row(1, "PAFT + structure", "shipped", 88.0),
            _row(0, "PAFT + structure", "symbols", 87.0), _row(1, "PAFT + structure", "symbols", 84.0),
            _row(0, "PAFT + structure", "circular", 86.0, 82.0), _row(1, "PAFT + structure", "circular", 85.0, 79.0)]
    table = driver.summary(rows)
    symbols = next(r for r in table if (r["arm"], r["kind"]) == ("PAFT + structure", "symbols"))
    assert symbols["mean"] == 85.5 and symbols["vs_shipped"] == pytest.approx(((87 - 89) + (84 - 88)) / 2)
    circular = next(r for r in table if r["kind"] == "circular")
    assert circular["circular_accuracy"] == 80.5
    (line,) = driver.goal_lines(table)
    # largest |variant − shipped|: symbols −3.0 and circular (86−89 + 85−88)/2 = −3.0 -> 3.00 holds (≤ 3);
    # CircularEval 80.5 holds; shipped 88.5 vs PAFT 89.0 -> −0.50 holds (≥ −1)
    assert "largest |variant − shipped| 3.00 (goal ≤ 3): **holds**" in line
    assert "CircularEval 80.50 (goal ≥ 80): **holds**" in line and "PAFT without structure -0.50" in line
    rows[5] = _row(1, "PAFT + structure", "symbols", 83.0)
    (line,) = driver.goal_lines(driver.summary(rows))
    assert "largest |variant − shipped| 3.50 (goal ≤ 3): does not hold" in line


def test_letter_slips_count_answers_in_the_tasks_letters_instead_of_the_shown_symbols(driver, tmp_path):
    import json

    from paft_ext.evaluation.prompt_sets import dataset_abbr, parse_prompt_set
    from paft_ext.pools.store import Prompt, write_pool

    pool = tmp_path / "unseen_test.symbols.jsonl"
    write_pool(pool, [Prompt("p~symbols", "{sentence}\n1 - {A}\n2 - {B}\nAnswer:", "test", symbols="12"),
                      Prompt("q~symbols", "{sentence}\na) {A}\nb) {B}\nAnswer:", "test", symbols="ab")])
    answers = [[("1", "A"), ("B", "B"), ("A", "B"), ("banana", "A")],  # 12: one slip right (B), one wrong (A)
               [("b", "B"), ("A", "A"), ("a", "B"), ("B.", "B")]]  # ab: slips "A" right, "B." right; "a" is a symbol
    run = tmp_path / "run"
    for index, items in enumerate(answers):
        path = run / "predictions" / "paft" / f"{dataset_abbr('sst2', parse_prompt_set(str(pool)), index)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({str(i): {"prediction": p, "gold": g} for i, (p, g) in enumerate(items)}))
    # 8 answers: slips "B", "A" (first prompt), "A", "B." (second) = 4 -> 50 %; right: "B", "A", "B." = 3 -> 37.5 %
    assert driver.letter_slips(run, "paft", "sst2", str(pool)) == (50.0, 37.5)


def _pilot():
    spec = importlib.util.spec_from_file_location("structure_pilot", SCRIPT.with_name("structure_pilot.py"))
    pilot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pilot)
    return pilot


def test_pilot_table_from_known_readings(tmp_path):
    pilot = _pilot()
    rows = {"none": {"train_loss": 0.2376, "tail_loss": 0.0449, "shipped": (88.2, 88.15), "option_order": (11.4, 11.6)},
            "order": {"train_loss": 0.5, "tail_loss": None, "shipped": (70.0, 69.5)}}
    pilot.write_pilot(rows, tmp_path, ["python x --draws order", "python x --draws all"])
    text = (tmp_path / "pilot_valid.md").read_text()
    assert "read on the first 5 `valid` prompts" in text
    assert "Commands: `python x --draws order`; `python x --draws all`." in text
    table = text.splitlines()[-2:]
    assert table == ["| none | 0.2376 | 0.0449 | 88.20 (88.15) | 11.40 (11.60) | – | – |",
                     "| order | 0.5000 | – | 70.00 (69.50) | – | – | – |"]
    assert pilot.draw_overrides("sst2", "order") == {"paft_option_order": True}
    assert set(pilot.DRAWS) == {"order", "symbols", "shots"}
    # a rerun in a checkout without "none"'s work folder: its committed row and command stay, "order" is re-read
    pilot.write_pilot({"order": {"train_loss": 0.25, "tail_loss": 0.125, "kshot": (60.0, 59.0)}}, tmp_path,
                      ["python x --draws all", "python x --seeds 2"])
    text = (tmp_path / "pilot_valid.md").read_text()
    assert "Commands: `python x --draws order`; `python x --draws all`; `python x --seeds 2`. PAFT on" in text
    assert text.splitlines()[-2:] == ["| none | 0.2376 | 0.0449 | 88.20 (88.15) | 11.40 (11.60) | – | – |",
                                      "| order | 0.2500 | 0.1250 | – | – | – | 60.00 (59.00) |"]


def test_pilot_settings_name_and_set_what_differs_from_the_recipe():
    pilot = _pilot()
    assert pilot.setting_name("order", 3, 0.0) == "order"
    assert pilot.setting_name("all", 9, 0.5) == "all_e9_c0.5"
    everything = {"paft_option_order": True, "paft_option_symbols": ["AB", "12", "ab"], "paft_max_shots": 2}
    assert pilot.setting_overrides("sst2", "all", 3, 0.0) == everything
    assert pilot.setting_overrides("sst2", "all", 9, 0.25) == {**everything, "num_train_epochs": 9.0,
                                                               "paft_canonical_ratio": 0.25}
    assert pilot.setting_name("all", 3, 0.0, 0.5) == "all_r0.5"
    assert pilot.setting_name("all", 9, 0.5, decay=True) == "all_e9_c0.5d"
    assert pilot.setting_overrides("sst2", "all", 9, 0.5, decay=True) == {
        **everything, "num_train_epochs": 9.0, "paft_canonical_ratio": 0.5, "paft_canonical_decay": True}
    with pytest.raises(SystemExit, match="--canonical-decay on needs a --canonical-ratio above 0"):
        pilot.setting_overrides("sst2", "all", 9, 0.0, decay=True)
    assert pilot.setting_overrides("sst2", "order", 3, 0.0, 0.5) == {"paft_option_order": True,
                                                                     "paft_structure_ratio": 0.5}
    assert pilot.setting_name("all", 9, 0.5, decay=True, prose=0.25, prose_alone=True) == "all_e9_c0.5d_p0.25a"
    assert pilot.setting_name("all", 9, 0.5, decay=True, prose=0.25) == "all_e9_c0.5d_p0.25"
    assert pilot.setting_overrides("sst2", "all", 3, 0.0, prose=0.25, prose_alone=True) == {
        **everything, "paft_option_prose": 0.25, "paft_option_prose_alone": True}
    with pytest.raises(SystemExit, match="--prose-alone on needs a --prose share above 0"):
        pilot.setting_overrides("sst2", "all", 3, 0.0, prose_alone=True)


def test_tail_loss_averages_the_logged_losses_of_the_last_steps(tmp_path):
    pilot = _pilot()
    assert pilot.tail_loss(tmp_path) is None
    lines = [{"current_steps": s, "loss": loss} for s, loss in ((5, 0.9), (50, 0.5), (55, 0.3), (100, 0.1))]
    lines.insert(2, {"current_steps": 52, "eval_loss": 7.0})  # no training loss: skipped
    (tmp_path / "trainer_log.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert pilot.tail_loss(tmp_path) == pytest.approx((0.3 + 0.1) / 2)  # steps 51..100
    assert pilot.tail_loss(tmp_path, steps=96) == pytest.approx((0.9 + 0.5 + 0.3 + 0.1) / 4)


def test_a_changed_structure_recipe_trains_in_a_folder_named_after_it(driver):
    from paft_ext.configs.recipes import RECIPES, structure_training_keys

    assert driver.recipe_suffix({}) == ""
    assert driver.recipe_suffix({"num_train_epochs": 3.0, "paft_canonical_ratio": 0}) == ""
    assert driver.recipe_suffix({"num_train_epochs": 9.0, "paft_canonical_ratio": 0.5}) == "_e9_c0.5"
    assert driver.recipe_suffix({"paft_structure_ratio": 0.25}) == "_r0.25"
    keys = structure_training_keys(get_task("sst2"), RECIPES["cpu"])
    assert driver.recipe_suffix(keys) == "_e9_c0.5d"  # the cpu recipe's structure setting, from its pilots
    assert structure_training_keys(get_task("sst2"), RECIPES["paper"]) == {
        "paft_option_order": True, "paft_option_symbols": ["AB", "12", "ab"], "paft_max_shots": 2}
    assert _pilot().setting_name("all", 9, 0.5, decay=True) == "all_e9_c0.5d"  # the pilot names it the same way
    with pytest.raises(SystemExit, match="SEED:FOLDER"):
        driver.parse_adopt(["0"])


def _finished_training(runner, method="paft", loss=0.25):
    """A training stage as Runner.train leaves it: the YAML it trained, the adapter folder, the stage record."""
    import yaml

    task = runner.tasks[0]
    config = runner.training_yaml(task, method)
    path = runner.work / "yaml" / f"{task.name}_{method}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    adapter = runner.adapter(task, method)
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"weights of the source run")
    record = {"yaml": str(path), "train_runtime": 3300.0, "train_loss": loss, "global_step": 900, "seconds": 3333.0,
              "commit": "abc"}
    runner.stage_file(f"train_{task.name}_{method}").parent.mkdir(parents=True, exist_ok=True)
    runner.stage_file(f"train_{task.name}_{method}").write_text(json.dumps(record))


def test_adopting_a_pilot_training_copies_it_only_when_it_is_the_same_training(tmp_path):
    """Two work folders (a pilot's and the evidence run's): same model files, prepared rows and pool under other
    paths. The adapter is adopted when every YAML key matches; a key of another value, or a prepared row that
    differs by one byte, is refused by name and nothing is copied."""
    import dataclasses
    import sys

    sys.path.insert(0, str(SCRIPT.parent))
    from validation_runs import adopt_training

    from paft_ext.experiments.presets import PRESETS
    from paft_ext.experiments.reproduce import RunMismatch, Runner

    def runner(name, overrides, rows=b'{"sentence": "good", "label": 1}\n'):
        model = tmp_path / name / "model"  # a model folder of its own, with the same files
        model.mkdir(parents=True)
        (model / "config.json").write_text('{"hidden_size": 576}')
        data = tmp_path / name / "work" / "data" / "llamafactory"
        data.mkdir(parents=True)
        (data / "sst2_train.jsonl").write_bytes(rows)
        preset = dataclasses.replace(PRESETS["cpu"], model=str(model))
        return Runner(preset, tmp_path / name / "work", train_overrides=overrides)

    keys = {"paft_option_order": True, "paft_canonical_ratio": 0.5, "num_train_epochs": 9.0, "seed": 0}
    source = runner("pilot", keys)
    _finished_training(source)
    target = runner("evidence", dict(keys))
    adopt_training(target, "paft", source.work)
    record = target.finished("train_sst2_paft")
    assert record["adopted_from"] == str(source.work) and record["trained_seconds"] == 3333.0
    assert record["train_loss"] == 0.25 and record["global_step"] == 900
    copied = target.adapter(get_task("sst2"), "paft") / "adapter_model.safetensors"
    assert copied.read_bytes() == b"weights of the source run"

    other = runner("other_ratio", {**keys, "paft_canonical_ratio": 0.25})
    with pytest.raises(RunMismatch, match=r"\(paft_canonical_ratio differ"):
        adopt_training(other, "paft", source.work)
    assert other.finished("train_sst2_paft") is None and not other.adapter(get_task("sst2"), "paft").exists()
    other_rows = runner("other_rows", dict(keys), rows=b'{"sentence": "good", "label": 0}\n')
    with pytest.raises(RunMismatch, match=r"\(dataset_dir differ"):
        adopt_training(other_rows, "paft", source.work)
    with pytest.raises(RunMismatch, match="no finished train_sst2_fixed"):
        adopt_training(runner("nothing", dict(keys)), "fixed", source.work)


def test_adopting_a_seed_the_run_does_not_train_is_refused_before_anything_runs(driver, tmp_path):
    with pytest.raises(SystemExit, match=r"--adopt names seeds \[3\] that --seeds does not run"):
        driver.main(["--seeds", "0", "1", "--adopt", f"3:{tmp_path}"])


def test_committed_readings_come_back_typed_as_written_and_a_file_without_folders_is_refused(driver, tmp_path):
    """A new checkout has no outputs/: the rerun keeps what readings.csv committed, so its rows must read back as
    the values that were written (numbers as numbers, empty cells as None, collapse as a bool)."""
    rows = [{"seed": 1, "arm": "PAFT", "folder": "plain_s1", "unseen_set": "test", "kind": "symbols", "mean": 0.0,
             "prompts": 5, "questions": 100, "balanced_accuracy": 12.5, "collapse": True, "circular_accuracy": None,
             "task_letters": 100.0, "task_letters_right": 83.8},
            {"seed": 0, "arm": "fixed prompt", "folder": "plain_s0", "unseen_set": "test_indep", "kind": "circular",
             "mean": 49.2, "prompts": 10, "questions": 100, "balanced_accuracy": None, "collapse": False,
             "circular_accuracy": 0.2, "task_letters": None, "task_letters_right": None}]
    driver.write_csv(tmp_path / "readings.csv", rows, driver.COLUMNS)
    assert driver.committed_readings(tmp_path / "readings.csv") == rows
    assert driver.committed_readings(tmp_path / "absent.csv") == []
    old = tmp_path / "old.csv"
    old.write_text("seed,arm,unseen_set,kind,mean,prompts,questions,balanced_accuracy,collapse,circular_accuracy,"
                   "task_letters,task_letters_right\n0,PAFT,test,shipped,88.2,5,100,88.1,False,,,\n")
    with pytest.raises(SystemExit, match=r"old\.csv:2: columns .* expected"):
        driver.committed_readings(old)
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(driver.COLUMNS) + "\n0,PAFT,plain_s0,test,shipped,88.2,5,100,88.1,maybe,,,\n")
    with pytest.raises(SystemExit, match=r"bad\.csv:2: collapse 'maybe'"):
        driver.committed_readings(bad)


def test_the_committed_readings_name_the_folders_this_driver_trains_in(driver):
    """The shipped readings.csv reads back, and every row's folder is the driver's name for its arm and seed — a
    rerun would otherwise train and read again what was committed."""
    rows = driver.committed_readings(Path("results/structure/sst2/readings.csv"))
    assert rows and all(r["folder"] == f"plain_s{r['seed']}" for r in rows if r["arm"] in ("fixed prompt", "PAFT"))
    from paft_ext.configs.recipes import RECIPES, structure_training_keys

    structure = "structure" + driver.recipe_suffix(structure_training_keys(get_task("sst2"), RECIPES["cpu"]))
    assert all(r["folder"] == f"{structure}_s{r['seed']}" for r in rows if r["arm"] == "PAFT + structure")
    assert {r["seed"] for r in rows if r["arm"] == "PAFT + structure"} == {0, 1, 2}
    assert driver.foreign_readings(rows, {"plain": "plain", "structure": structure}) == []


def test_committed_rows_of_another_setting_are_refused_before_anything_runs(driver, tmp_path, monkeypatch):
    """A rerun rewrites readings.csv from the folders it trains: rows read from another setting's folder (or under
    an arm title the driver does not know) would vanish, so the run stops first and names their lines."""
    out = tmp_path / "results" / "structure" / "sst2"
    out.mkdir(parents=True)
    row = {"seed": 0, "arm": "PAFT", "folder": "plain_s0", "unseen_set": "test", "kind": "shipped", "mean": 88.0,
           "prompts": 5, "questions": 100, "balanced_accuracy": 88.0, "collapse": False, "circular_accuracy": None,
           "task_letters": None, "task_letters_right": None}
    rows = [row, {**row, "arm": "PAFT + structure", "folder": "structure_e3_c0.0_s0"},
            {**row, "seed": 1, "folder": "plain_s0"}, {**row, "arm": "PAFT v2"}]
    driver.write_csv(out / "readings.csv", rows, driver.COLUMNS)
    monkeypatch.setattr(driver, "ROOT", tmp_path)
    with pytest.raises(SystemExit) as refused:
        driver.main(["--seeds", "0"])
    message = str(refused.value)
    assert "line 3: seed 0, PAFT + structure, structure_e3_c0.0_s0" in message
    assert "line 4: seed 1, PAFT, plain_s0" in message and "line 5: seed 0, PAFT v2, plain_s0" in message
    assert "line 2" not in message and not (tmp_path / "outputs").exists()
    driver.write_csv(out / "readings.csv", rows[:1], driver.COLUMNS)
    assert driver.foreign_readings(driver.committed_readings(out / "readings.csv"),
                                   {"plain": "plain", "structure": "structure_e9_c0.5"}) == []


def test_a_study_trains_and_reads_the_task_it_names():
    """``--task sciq`` must train SciQ: the study preset keeps the ``cpu`` preset's counts with the named task."""
    import sys

    sys.path.insert(0, str(SCRIPT.parent))
    from validation_runs import study_preset

    from paft_ext.experiments.presets import PRESETS

    base = PRESETS["cpu"]
    preset = study_preset(dataclasses.replace(base, tasks=("sciq",)), "structure", "plain", ["a.jsonl", "b.jsonl"])
    assert preset.tasks == ("sciq",) and preset.name == "cpu_structure_plain"
    assert preset.prompt_sets == ("a.jsonl", "b.jsonl") and preset.prompts is None
    assert (preset.train_samples, preset.eval_questions) == (base.train_samples, base.eval_questions) == (400, 100)


def test_a_training_recorded_in_a_removed_checkout_is_adopted_by_its_pool_digest_and_model_name(tmp_path):
    """A pilot trained in a worktree since removed names a pool and a model that no longer exist: its pool is compared
    by the digest its ``paft_schedule.json`` records, its model by name under ``.cache/models``; another digest or
    another model name is refused by key."""
    import dataclasses
    import sys

    import yaml

    sys.path.insert(0, str(SCRIPT.parent))
    from validation_runs import adopt_training

    from paft_ext.experiments.presets import PRESETS
    from paft_ext.experiments.reproduce import RunMismatch, Runner
    from paft_ext.pools.store import load_pool, pool_digest

    def runner(name, model_name="SmolLM2-135M-Instruct"):
        model = tmp_path / name / ".cache" / "models" / model_name
        model.mkdir(parents=True)
        data = tmp_path / name / "work" / "data" / "llamafactory"
        data.mkdir(parents=True)
        (data / "sst2_train.jsonl").write_bytes(b'{"sentence": "good", "label": 1}\n')
        return Runner(dataclasses.replace(PRESETS["cpu"], model=str(model)), tmp_path / name / "work",
                      train_overrides={"paft_option_order": True, "seed": 0})

    task = get_task("sst2")
    shipped = pool_digest(load_pool(SCRIPT.parents[1] / "data" / "prompts" / "sst2" / "train.jsonl", task.fields))

    def removed_source(name, digest):
        source = runner(name)
        _finished_training(source)
        path = source.work / "yaml" / "sst2_paft.yaml"
        config = yaml.safe_load(path.read_text())
        gone = tmp_path / "gone_worktree"  # never created: the checkout the pilot ran in
        config["paft_pool"] = str(gone / "data" / "prompts" / "sst2" / "train.jsonl")
        config["model_name_or_path"] = str(gone / ".cache" / "models" / "SmolLM2-135M-Instruct")
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        (source.adapter(task, "paft") / "paft_schedule.json").write_text(json.dumps({"spec": {"pool_digest": digest}}))
        return source

    good = removed_source("pilot", shipped)
    target = runner("evidence")
    adopt_training(target, "paft", good.work)
    assert target.finished("train_sst2_paft")["adopted_from"] == str(good.work)
    stale = removed_source("stale_pilot", "0" * 64)
    with pytest.raises(RunMismatch, match=r"\(paft_pool differ"):
        adopt_training(runner("evidence_2"), "paft", stale.work)
    with pytest.raises(RunMismatch, match=r"\(model_name_or_path differ"):
        adopt_training(runner("evidence_3", model_name="Other-Model"), "paft", good.work)
