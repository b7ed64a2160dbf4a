"""The experiment runner builds every piece once, stores results, and skips finished runs."""

import dataclasses
import json
import subprocess

import pytest
from filelock import FileLock
from test_distill_cli import write_corpus, write_rte

from analysis.tables import load_results
from distill import stages
from distill.checkpoints import file_sha256
from distill.experiments import EXPERIMENTS
from distill.experiments import runner as runner_module
from distill.experiments.ablations import ROWS
from distill.experiments.layout import RunRecord
from distill.experiments.profiles import PROFILES, get_profile
from distill.experiments.runner import Runner, git_commit, main


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_glove_file):
    """Table 2 on an RTE-layout fixture with tiny random models, one seed."""
    root = tmp_path_factory.mktemp("runner")
    profile = dataclasses.replace(
        PROFILES["smoke"],
        glue_dir=write_rte(root / "glue"),
        corpus=write_corpus(root / "corpus.txt"),
        tasks=("rte",),
        seeds=(0,),
        glove=str(tiny_glove_file),
        batch_size=4,
        general_lr=1e-3,
        stage2_lr=2e-4,
    )
    runner = Runner(profile, root / "work", root / "results")
    paths = runner.run_table("table2")
    return runner, paths


def test_table_runs_store_results_with_their_recipe(finished):
    runner, paths = finished
    assert [p.relative_to(runner.results_dir).as_posix() for p in paths] == [
        f"table2/{name}/rte/seed0.json" for name in ("full", "no-gd", "no-td", "no-da")
    ]
    record = json.loads(paths[1].read_text())
    assert record["row"] == "w/o GD" and record["table"] == "table2" and record["seed"] == 0
    assert set(record["metrics"]) == {"dev/acc"}
    assert "--random-init" in record["command"]  # the row's switch, in the pasteable command
    assert "--student" not in record["command"]  # w/o GD starts from a random student
    assert record["profile"]["name"] == "smoke" and record["commit"]
    assert record["train_seconds"] > 0 and record["wall_time_s"] > 0
    assert record["teacher_cache_bytes"] >= 0
    dev = record["predictions"]["dev"]  # what the metric was computed from, example by example
    hits = [p == g for p, g in zip(dev["predicted"], dev["gold"], strict=True)]
    assert set(dev["gold"]) == {"0", "1"}
    assert sum(hits) / len(hits) == pytest.approx(record["metrics"]["dev/acc"])
    command = record["command"]
    assert command[command.index("--stage2-lr") + 1] == "0.0002"
    assert "--stage1-lr" not in command  # the profile's is the paper's, the default
    run = RunRecord.read(paths[0])  # what the run used, beside its command
    assert run.mapping == [0, 2, 4, 6] and run.settings["objectives"] == [
        "embd",
        "attn",
        "hidn",
        "pred",
    ]
    assert run.settings["stage1_lr"] == profile_value(runner, "stage1_lr")
    assert run.settings["temperature"] == 1.0 and run.settings["stage2_examples"] > 0
    for shared in ("teachers/rte.json", "general.json", "augment/rte.json"):
        assert (runner.results_dir / shared).is_file()
    for shared in ("general.json", "teachers/rte.json"):  # every process's training time
        assert json.loads((runner.results_dir / shared).read_text())["train_seconds"] is not None
    general = json.loads((runner.results_dir / "general.json").read_text())["command"]
    assert general[general.index("--lr") + 1] == "0.001"
    augment = json.loads((runner.results_dir / "augment/rte.json").read_text())
    assert augment["output_lines"] > augment["input_lines"]
    assert augment["sha256"] == file_sha256(runner.layout.augmented("rte"))
    run_folder = runner.work / "runs" / "full" / "rte" / "seed0"
    kept = {p.relative_to(run_folder).as_posix() for p in run_folder.rglob("*.safetensors")}
    assert kept == {"stage2/best/model.safetensors"}  # the selected student, nothing else
    assert not list((runner.work / "runs").rglob("checkpoint*"))  # resume state is cleaned up
    table = load_results(runner.results_dir)
    assert sorted(table["row"].unique()) == ["TinyBERT4", "w/o DA", "w/o GD", "w/o TD"]


def profile_value(runner, name):
    return getattr(runner.profile, name)


def no_stage_runs(monkeypatch) -> list:
    """Record any stage the runner calls instead of running it."""
    calls = []
    for name in ("finetune", "general", "task"):
        monkeypatch.setattr(stages, name, calls.append)
    return calls


def test_finished_runs_are_skipped(finished, monkeypatch):
    runner, paths = finished
    calls = no_stage_runs(monkeypatch)
    assert runner.run_table("table2") == paths
    assert calls == []


def test_a_run_another_runner_holds_is_left_to_it(finished, monkeypatch):
    runner, _ = finished
    calls = no_stage_runs(monkeypatch)
    held = FileLock(runner.work / "locks" / "run-no-embd-rte-seed0.lock")
    with held.acquire(timeout=0):
        assert runner.run("table3", EXPERIMENTS["no-embd"], "rte", 0) is None
    assert calls == []
    assert not runner.result_path("table3", EXPERIMENTS["no-embd"], "rte", 0).exists()


def test_records_hold_no_machine_paths(finished):
    """Committed records must read the same in every clone: the work folder, the project
    and ../shared appear as relative paths, the pip teacher by its short name."""
    runner, _ = finished
    for record in runner.results_dir.rglob("*.json"):
        if record.name == "profile.json":
            continue  # the test's profile names its own (temporary) data folders
        text = json.dumps(
            {k: v for k, v in json.loads(record.read_text()).items() if k != "profile"}
        )
        for machine_path in (str(runner.work), "/root/"):
            assert machine_path not in text, (record, machine_path)
    teacher = json.loads((runner.results_dir / "teachers" / "rte.json").read_text())
    assert "WORK/glue" in teacher["command"]


def test_finished_models_carry_model_cards_matching_their_records(finished):
    from distill.model_card import read_card_metrics

    runner, paths = finished
    for path in paths:
        record = json.loads(path.read_text())
        row = path.parts[-3]
        best = runner.work / "runs" / row / "rte" / "seed0" / "stage2" / "best"
        assert read_card_metrics(best) == record["metrics"]
        card = (best / "README.md").read_text()
        assert record["row"] in card  # the experiment label, e.g. "w/o GD"
    no_td = json.loads(paths[2].read_text())
    assert no_td["mapping"] is None and json.loads(paths[0].read_text())["mapping"] == [0, 2, 4, 6]
    teacher = runner.work / "teacher" / "rte" / "best"
    teacher_record = json.loads((runner.results_dir / "teachers" / "rte.json").read_text())
    assert read_card_metrics(teacher) == teacher_record["metrics"]


def test_rows_repeating_the_full_run_share_it(finished):
    runner, _ = finished
    uniform = runner.result_path("table4", EXPERIMENTS["uniform"], "rte", 0)
    assert uniform == runner.result_path("table2", EXPERIMENTS["full"], "rte", 0)
    assert runner.result_path("table4", EXPERIMENTS["top"], "rte", 0).parts[-4] == "table4"


def test_status_lists_done_and_missing_runs(finished, capsys, monkeypatch):
    runner, _ = finished
    status = {(r["table"], r["row"]): r["done"] for r in runner.status()}
    assert status[("table2", "w/o DA")] and status[("table4", "Uniform")]
    assert not status[("table3", "w/o Attn")]
    monkeypatch.setattr(runner_module, "Runner", lambda *args: runner)
    assert main(["status"]) == 0
    # 13 rows in all, Table 4's Uniform is Table 2's TinyBERT4 run: 12 runs, 4 done
    assert "4/12 runs done (5/13 table cells" in capsys.readouterr().out


def test_without_trm_starts_from_an_embedding_only_general_distillation(finished):
    """Footnote 11: "w/o Trm" distils only the embedding layer in general distillation; it
    must not start from the full general-distilled student. (Placed after the status test,
    which counts the runs done so far.)"""
    runner, _ = finished
    path = runner.run("table3", EXPERIMENTS["no-trm"], "rte", 0)
    command = json.loads(path.read_text())["command"]
    assert command[command.index("--student") + 1] == "WORK/general-without-trm"
    piece = json.loads((runner.results_dir / "general-without-trm.json").read_text())
    assert piece["command"][piece["command"].index("--without") + 1] == "trm"
    assert {"embd"} <= set(piece["final_log"]) and not {"attn", "hidn"} & set(piece["final_log"])


def test_status_reports_the_teacher_cache_size(finished, tmp_path):
    runner, _ = finished
    files = [path for path in runner.layout.teacher_cache.rglob("*") if path.is_file()]
    assert files, "the runs should have filled the teacher cache"
    assert runner.cache_bytes() == sum(path.stat().st_size for path in files)
    assert Runner(runner.profile, tmp_path / "work", tmp_path / "results").cache_bytes() == 0


def test_cli_rejects_unknown_table_and_profile(capsys):
    with pytest.raises(SystemExit):
        main(["run", "table9", "--profile", "smoke"])
    assert "unknown tables" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("gpu")


def test_missing_glue_folder_is_a_clear_error(tmp_path):
    profile = dataclasses.replace(PROFILES["smoke"], glue_dir=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="GLUE MRPC folder not found"):
        Runner(profile, tmp_path / "work").data("mrpc")


def test_a_changed_profile_cannot_reuse_the_folders(finished):
    runner, _ = finished
    changed = dataclasses.replace(runner.profile, stage2_epochs=7)
    with pytest.raises(ValueError, match=r"another configuration .* \['stage2_epochs'\]"):
        Runner(changed, runner.work, runner.results_dir).check_profile()


def test_a_profile_may_gain_a_task_or_a_seed(finished):
    runner, _ = finished
    grown = dataclasses.replace(
        runner.profile,
        tasks=(*runner.profile.tasks, "mrpc"),
        seeds=(*runner.profile.seeds, 9),
        n_a={**runner.profile.n_a, "mrpc": 3},  # a setting for the new task only
    )
    changed_old_task = dataclasses.replace(grown, n_a={**grown.n_a, "rte": 5})
    with pytest.raises(ValueError, match=r"another configuration .* \['n_a'\]"):
        Runner(changed_old_task, runner.work, runner.results_dir).check_profile()
    grown_runner = Runner(grown, runner.work, runner.results_dir)
    grown_runner.check_profile()
    statuses = grown_runner.status(("table2",))
    stamp = json.loads((runner.results_dir / "profile.json").read_text())
    assert stamp["tasks"] == [*runner.profile.tasks, "mrpc"] and stamp["seeds"][-1] == 9
    done = {(row["task"], row["seed"]) for row in statuses if row["done"]}
    assert done == {("rte", 0)}  # the finished runs still count; the new ones are to do


def test_prepare_builds_the_shared_pieces_and_no_run(tmp_path, tiny_glove_file):
    profile = dataclasses.replace(
        PROFILES["smoke"],
        glue_dir=write_rte(tmp_path / "glue"),
        corpus=write_corpus(tmp_path / "corpus.txt"),
        tasks=("rte",),
        glove=str(tiny_glove_file),
        batch_size=4,
    )
    runner = Runner(profile, tmp_path / "work", tmp_path / "results")
    runner.prepare()
    assert (runner.work / "teacher/rte/best/config.json").is_file()
    assert (runner.work / "augment/rte/train_aug.tsv").is_file()
    assert (runner.work / "general/config.json").is_file()
    assert not (runner.work / "runs").exists() and not (runner.results_dir / "table2").exists()
    assert not (runner.work / "augment/rte-n_a-x4").exists()  # no paper row uses it
    runner.prepare(("augmentation-size",))  # the N_a study's own, larger set
    assert (runner.work / "augment/rte-n_a-x4/train_aug.tsv").is_file()


def test_only_uncommitted_code_marks_the_commit_dirty(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "distill").mkdir()
    (tmp_path / "distill" / "code.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("notes\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    clean = git_commit(tmp_path)
    assert len(clean) == 40
    (tmp_path / "README.md").write_text("results are being written\n")
    assert git_commit(tmp_path) == clean
    (tmp_path / "distill" / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == clean + "-dirty"


def test_the_teacher_is_the_candidate_with_the_best_dev_score(tmp_path, monkeypatch):
    """Issue 15's teacher pilot: with alternatives, every pre-trained candidate is fine-tuned
    and the task keeps the best on its dev metric; the record publishes them all."""
    profile = dataclasses.replace(
        PROFILES["smoke"],
        tasks=("mrpc",),
        teacher_alternatives=("shared:minilm-wiki-mlm", "bert-base-uncased"),
    )
    runner = Runner(profile, tmp_path / "work", tmp_path / "results")
    scores = {0: 0.70, 1: 0.84, 2: 0.80}  # dev F1 of each candidate, MRPC's metric
    tuned = []

    def fine_tuned(task, name, candidate):
        tuned.append(runner.pretrained_teacher(name))
        return {"task": task, "model": name, "metrics": {"dev/f1": scores[candidate],
                "dev/acc": 1 - scores[candidate]}, "wall_time_s": 10.0}  # fmt: skip

    monkeypatch.setattr(runner, "_fine_tuned", fine_tuned)
    teacher = runner.teacher("mrpc")
    assert teacher == runner.work / "teacher" / "mrpc-alternative1" / "best"
    assert tuned[1].endswith("shared/assets/models/minilm-wiki-mlm")
    record = json.loads(runner.results.teacher_record("mrpc").read_text())
    assert record["model"] == "shared:minilm-wiki-mlm" and record["chosen_by"] == "dev/f1"
    assert [c["metrics"]["dev/f1"] for c in record["candidates"]] == [0.70, 0.84, 0.80]
    assert record["wall_time_s"] == 30.0  # the cost of the piece is every candidate's
    tuned.clear()
    assert runner.teacher("mrpc") == teacher and tuned == []  # chosen once, then read


def test_a_stamp_from_before_a_setting_existed_takes_its_default(finished):
    """A setting added to profiles later (a tuple here, a list once in JSON) changes no
    finished run whose stamp lacks it."""
    runner, _ = finished
    stamp = json.loads((runner.results_dir / "profile.json").read_text())
    older = {key: value for key, value in stamp.items() if key != "teacher_alternatives"}
    assert runner_module._recipe_changes(older, stamp) == []


def test_a_renamed_profile_changes_no_run_and_a_changed_recipe_does(finished):
    """A grid made under a trial name becomes the published profile's: the name chooses
    only the folders; a changed setting is refused."""
    runner, _ = finished
    stamp = json.loads((runner.results_dir / "profile.json").read_text())
    assert runner_module._recipe_changes(stamp | {"name": "renamed"}, stamp) == []
    changed = stamp | {"name": "renamed", "stage1_lr": stamp["stage1_lr"] * 2}
    assert runner_module._recipe_changes(changed, stamp) == ["stage1_lr"]


def test_a_study_row_augments_with_a_larger_n_a_and_is_stored_apart(finished):
    """The N_a study (issue 15): its row trains on its own augmented set, N_a times four,
    and its record sits under the study's name, beside Table 2's runs of the same seed."""
    runner, _ = finished
    path = runner.run("augmentation-size", EXPERIMENTS["da-n_a-x4"], "rte", 0)
    assert path.relative_to(runner.results_dir).as_posix() == (
        "augmentation-size/da-n_a-x4/rte/seed0.json"
    )
    base = json.loads((runner.results_dir / "augment" / "rte.json").read_text())
    larger = json.loads((runner.results_dir / "augment" / "rte-n_a-x4.json").read_text())
    assert larger["command"][larger["command"].index("--n_a") + 1] == str(
        4 * runner.profile.n_a["default"]
    )
    assert larger["output_lines"] > base["output_lines"]
    command = json.loads(path.read_text())["command"]
    assert (
        command[command.index("--augmented-train") + 1] == "WORK/augment/rte-n_a-x4/train_aug.tsv"
    )


def test_workers_are_runner_processes_sharing_the_threads(monkeypatch):
    started = []

    class Child:
        def __init__(self, command, env):
            started.append((command, env))

        def wait(self):
            return len(started) - 1  # the worst status is returned

    monkeypatch.setattr(runner_module.subprocess, "Popen", Child)
    monkeypatch.setattr(runner_module.os, "cpu_count", lambda: 2)
    status = main(["run", "table2", "--profile", "smoke", "--workers", "2", "--seeds", "0"])
    assert status == 1 and len(started) == 2
    for command, env in started:
        assert command[1:] == ["-m", "distill", "experiments", "run", "table2", "--profile",
                               "smoke", "--seeds", "0"]  # fmt: skip
        assert env["OMP_NUM_THREADS"] == "1"


def test_teacher_caches_go_once_no_unfinished_run_reads_their_training_set(tmp_path):
    """The N_a study's set is read by its row only: once that row's last seed is done its
    cached targets are deleted, while the sets unfinished rows train on stay."""
    profile = dataclasses.replace(PROFILES["smoke"], tasks=("rte",), seeds=(0,))
    runner = Runner(profile, tmp_path / "work", tmp_path / "results")
    study = ROWS["augmentation-size"][0]
    sets = {
        "study": runner.layout.augmented("rte", study.n_a_scale),
        "augmented": runner.layout.augmented("rte"),
        "original": runner.layout.glue / "RTE" / "train.tsv",
    }
    for name, data in sets.items():
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("rows\n")
        folder = runner.layout.teacher_cache / f"targets-{name}"
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(json.dumps({"train": [str(data.resolve()), 5, 0]}))
    assert runner.release_teacher_caches() == []  # every set has unfinished runs
    done = runner.result_path("augmentation-size", study, "rte", 0)
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    assert runner.release_teacher_caches() == [runner.layout.teacher_cache / "targets-study"]
    assert sorted(p.name for p in runner.layout.teacher_cache.iterdir()) == [
        "targets-augmented",
        "targets-original",
    ]
