"""The notebooks' helpers: training is opt-in, skip notes name the command, the digest of
what a notebook was rendered from changes with any byte or name of its inputs, and the
per-task figures name their metric."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from analysis import notebook_support as nb  # noqa: E402
from distill.experiments import EXPERIMENTS  # noqa: E402
from distill.experiments.profiles import get_profile  # noqa: E402
from distill.experiments.runner import Runner  # noqa: E402


def test_training_is_off_unless_asked(monkeypatch):
    monkeypatch.delenv("TINYBERT_RUN_MISSING", raising=False)
    assert nb.run_missing() is False
    monkeypatch.setenv("TINYBERT_RUN_MISSING", "1")
    assert nb.run_missing() is True


def test_skip_note_names_the_command_that_builds_the_piece(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYBERT_WORK_DIR", str(tmp_path))
    runner = Runner(get_profile("cpu"), tmp_path, tmp_path / "results")
    assert (
        nb.get_piece(runner, "student", EXPERIMENTS["full"], "mrpc", 0, run_missing=False) is None
    )
    note = capsys.readouterr().out
    assert note.startswith("skipped: no finished student")
    command = note.splitlines()[-1].strip()
    assert command.startswith('python -c "') and "EXPERIMENTS['full'], 'mrpc', 0)" in command
    assert f"get_profile('cpu'), {str(tmp_path)!r})" in command
    assert not (tmp_path / "teacher").exists()  # nothing trained


def test_digest_follows_bytes_and_names(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text("{}")
    second.write_text("[]")
    digest = nb.inputs_digest([first, second])
    assert nb.inputs_digest([second, first]) == digest  # order does not matter
    second.write_text("[1]")
    assert nb.inputs_digest([first, second]) != digest
    second.write_text("[]")
    assert nb.inputs_digest([first, second]) == digest
    second.rename(tmp_path / "c.json")
    assert nb.inputs_digest([first, tmp_path / "c.json"]) != digest


def test_rendered_from_records_the_committed_results(capsys):
    record = nb.rendered_from(["results/cpu/teachers/*.json"])
    assert record["files"] == len(list((nb.ROOT / "results/cpu/teachers").glob("*.json"))) > 0
    assert capsys.readouterr().out.startswith(nb.RENDERED_FROM + "{")


def test_piece_seconds_come_from_the_records():
    seconds = nb.piece_seconds(nb.ROOT / "results" / "cpu", "mrpc", 0)
    assert set(seconds) >= {"teacher fine-tuning", "general distillation"}
    assert all(value > 0 for value in seconds.values())


def test_seed_score_axes_name_the_metric():
    scores = pd.DataFrame(
        {
            "row": ["TinyBERT4"] * 3,
            "task": ["MRPC", "CoLA", "SST-2"],
            "score": [80.0, 20.0, 85.0],
        }
    )
    fig = nb.plot_seed_scores(scores, "table2", "Table 2")
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert labels == ["dev F1 x100", "dev MCC x100", "dev accuracy x100"]


def test_metric_note_names_every_task_metric():
    assert nb.metric_note() == ("Dev scores x100: MRPC F1, CoLA MCC, SST-2 accuracy, RTE accuracy")
