"""Profiles are TOML files: the shipped ones load and keep their published recipes, a user's
file works the same way, and a broken one is a one-line error naming the file."""

import json

import pytest

from distill.__main__ import run_command
from distill.experiments.profiles import (
    PROFILE_DIR,
    PROFILES,
    ROOT,
    Profile,
    get_profile,
    load_profile,
)
from distill.experiments.runner import _recipe_changes, main


def test_the_shipped_profiles_are_the_files():
    assert sorted(path.stem for path in PROFILE_DIR.glob("*.toml")) == [
        "cpu",
        "paper",
        "smoke",
    ]
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert get_profile(name) == profile == load_profile(PROFILE_DIR / f"{name}.toml")


def test_the_cpu_file_is_the_recipe_of_the_published_grid():
    """The committed results were made with the profile their stamp holds: the file
    describes the same runs."""
    stamp = json.loads((ROOT / "results" / "cpu" / "profile.json").read_text())
    described = json.loads(json.dumps(PROFILES["cpu"].describe()))
    assert _recipe_changes(stamp, described) == []
    assert described["glue_dir"] == "../shared/assets/glue"  # relative to the file's folder


def test_the_paper_profile_holds_the_papers_settings():
    """Sec. 4.2 and the released code, setting by setting (None: the task's stage-1 epochs,
    20; 10 for MNLI, QQP, QNLI; 50 for CoLA)."""
    paper = PROFILES["paper"]
    expected = {
        "teacher": "bert-base-uncased",
        "student_preset": "tinybert4",
        "finetune_epochs": {"default": 3},
        "finetune_lr": 2e-5,
        "general_epochs": 3,
        "general_max_length": 128,
        "general_max_lines": None,
        "general_lr": 1e-4,
        "general_batch_size": 256,
        "n_a": {"default": 20},
        "p_t": 0.4,
        "k": 15,
        "candidates": "faithful",
        "stage1_epochs": None,
        "stage2_epochs": 3,
        "stage1_lr": 5e-5,
        "stage2_lr": 3e-5,
        "stage1_schedule": "constant",
        "temperature": 1.0,
        "projection": "paper",
        "batch_size": 32,
        "train_limit": {},
        "dev_limit": None,
    }
    assert {key: getattr(paper, key) for key in expected} == expected


def test_a_user_profile_file_is_read_like_a_shipped_one(tmp_path, capsys):
    mine = tmp_path / "profiles" / "mine.toml"
    mine.parent.mkdir()
    text = (PROFILE_DIR / "smoke.toml").read_text()
    text = text.replace('name = "smoke"', 'name = "mine"').replace("seeds = [0, 1]", "seeds = [7]")
    text = text.replace("../../shared/assets/glue", "glue")
    mine.write_text(text)
    profile = get_profile(str(mine))
    assert profile.name == "mine" and profile.seeds == (7,)
    assert profile.glue_dir == mine.parent / "glue"  # relative to the file
    assert isinstance(profile, Profile) and profile.tasks == ("cola",)
    assert main(["status", "--profile", str(mine), "--work-dir", str(tmp_path / "w")]) == 0
    assert "0/12 runs done (0/13 table cells" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + "\nlearning_rate = 1e-3\n", "unknown setting(s) learning_rate; known:"),
        (lambda t: t.replace("seeds = [0, 1]", 'seeds = ["zero"]'), 'field "seeds'),
        (lambda t: t.replace("k = 5", 'k = "five"'), 'field "k"'),
        (lambda t: t.replace('teacher = "tiny-random"', ""), 'missing value for field "teacher"'),
        (lambda t: t.replace("k = 5", "k = "), "not a TOML profile"),
    ],
)
def test_a_broken_profile_is_one_line_naming_the_file(tmp_path, capsys, edit, message):
    broken = tmp_path / "broken.toml"
    broken.write_text(edit((PROFILE_DIR / "smoke.toml").read_text()))
    with pytest.raises(ValueError, match="broken.toml") as error:
        load_profile(broken)
    assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(SystemExit) as exit_info:
        run_command(["experiments", "status", "--profile", str(broken)])
    assert exit_info.value.code == 2
    printed = capsys.readouterr().err.strip()
    assert len(printed.splitlines()) == 1 and "broken.toml" in printed


def test_an_unknown_profile_name_or_missing_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        get_profile("gpu")
    with pytest.raises(FileNotFoundError, match="profile file not found"):
        get_profile(str(tmp_path / "absent.toml"))
