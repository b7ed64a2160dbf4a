"""``python -m analysis attention``: outputs for one model and for a teacher/student pair,
model names (folder, ``minilm``, unreachable hub name) and bad input (one line, exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from huggingface_hub import constants  # noqa: E402
from tiny import make_masked_lm  # noqa: E402

from analysis.attention import main  # noqa: E402
from analysis.models import MINILM, ModelNotFound, resolve_model  # noqa: E402

TEXT = "how can anyone drive such a small car ?"
PAIR = "the truck is big ."


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    return make_masked_lm(tmp_path_factory.mktemp("teacher"), layers=4, seed=0)


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    return make_masked_lm(tmp_path_factory.mktemp("student"), layers=2, seed=1)


def test_one_model_writes_grid_heads_statistics_and_html(teacher_dir, tmp_path, capsys):
    out = tmp_path / "out"
    main(["--model", str(teacher_dir), "--text", TEXT, "--pair", PAIR, "--out", str(out)])
    written = {Path(line).name for line in capsys.readouterr().out.split()}
    assert {"grid_teacher.png", "head_statistics.png", "attention.html"} <= written
    assert {"head_statistics.csv", "head_statistics.json"} <= written
    assert any(re.fullmatch(r"head_L\d+_H\d+\.png", name) for name in written)
    assert written == {path.name for path in out.iterdir()}  # no scratch files left behind
    stats = pd.read_csv(out / "head_statistics.csv")
    assert sorted(stats["layer"].unique()) == [1, 2, 3, 4]  # numbered from 1
    assert sorted(stats["head"].unique()) == [1, 2, 3, 4]
    assert set(stats["model"]) == {"teacher"}
    records = json.loads((out / "head_statistics.json").read_text())
    assert records[0]["layer"] == 1 and len(records) == 16
    html = (out / "attention.html").read_text()
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js is inlined, nothing fetched
    assert '"layer 4"' in html and "[SEP]" in html
    assert r"query: %{customdata[0]}\u003cbr\u003ekey: %{customdata[1]}" in html  # hover text


def test_chosen_heads_are_drawn(teacher_dir, tmp_path, capsys):
    out = tmp_path / "out"
    main(["--model", str(teacher_dir), "--text", TEXT, "--out", str(out), "--heads", "4:2"])
    heads = sorted(path.name for path in out.glob("head_L*"))
    assert heads == ["head_L4_H2.png"]


def test_student_outputs(teacher_dir, student_dir, tmp_path):
    out = tmp_path / "out"
    argv = ["--model", str(teacher_dir), "--student", str(student_dir), "--text", TEXT]
    main([*argv, "--out", str(out)])
    names = {path.name for path in out.iterdir()}
    assert {"grid_student.png", "grid_difference.png", "head_statistics_student.png"} <= names
    assert sum(name.startswith(("best_copied_", "worst_copied_")) for name in names) == 2
    stats = pd.read_csv(out / "head_statistics.csv")
    student = stats[stats["model"] == "student"]
    # uniform mapping of 2 student layers onto 4 teacher layers: 1 -> 2, 2 -> 4
    assert dict(zip(student["layer"], student["teacher_layer"], strict=False)) == {1: 2, 2: 4}
    html = (out / "attention.html").read_text()
    assert "layer 2 (copies teacher layer 4)" in html
    assert "student minus mapped teacher" in html


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--text", "  "], "--text is empty"),
        (["--text", TEXT, "--heads", "0:1"], "--heads '0:1'"),
        (["--text", TEXT, "--heads", "9:1"], "--heads 9:1: "),
        (["--text", TEXT, "--mapping", "top", "--student", "./absent"], "absent: not a model"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(teacher_dir, tmp_path, argv, message, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        main(["--model", str(teacher_dir), "--out", str(out), *argv])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not out.exists() or not any(out.iterdir())


def test_bad_input_leaves_earlier_outputs_alone(teacher_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "grid_teacher.png").write_bytes(b"earlier")
    with pytest.raises(SystemExit):
        main(["--model", str(teacher_dir), "--text", TEXT, "--out", str(out), "--heads", "7:7"])
    assert (out / "grid_teacher.png").read_bytes() == b"earlier"
    assert [path.name for path in tmp_path.iterdir()] == ["out"]  # no scratch folder left


def test_unreachable_hub_name_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # as on a machine with no network
    name = "no-such-owner/no-such-model"
    with pytest.raises(SystemExit) as stop:
        main(["--model", name, "--text", TEXT, "--out", str(tmp_path / "out")])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and name in captured.err and "unreachable" in captured.err
    assert captured.out == "" and not (tmp_path / "out").exists()


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve_model(str(tmp_path))


def test_pip_minilm_short_name(tmp_path, capsys):
    """The teacher every install has, by its short name, with no banner on stdout."""
    main(["--model", MINILM, "--text", "the movie was great .", "--out", str(tmp_path / "out")])
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert all(path.is_file() for path in written)  # stdout is the list of files, nothing else
    stats = pd.read_csv(tmp_path / "out" / "head_statistics.csv")
    assert (stats["layer"].max(), stats["head"].max()) == (6, 12)  # all-MiniLM-L6-v2


def test_command_family_dispatches_and_rejects_unknown_commands(capsys):
    from analysis.__main__ import main as analysis_main

    analysis_main([])
    assert "attention" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        analysis_main(["attentoin"])
    assert stop.value.code == 2 and "unknown command 'attentoin'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        analysis_main(["tables", "--help"])  # analysis.tables' own parser answers
    assert stop.value.code == 0 and "results" in capsys.readouterr().out
