"""Damaged checkpoints: resume says which file, falls back to the previous good checkpoint
(or a fresh start) and continues the loss curve of an uninterrupted run."""

import json
from pathlib import Path

import pytest
from test_distill_training import general_args, setup, student  # noqa: F401 (fixture)

from distill.checkpoints import problem
from distill.cli import main


def curve(out: Path) -> dict[int, float]:
    """Loss per step, the last record winning (steps redone after a fallback log twice)."""
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if r["stage"] == "general"}


@pytest.fixture(scope="module")
def straight(setup):  # noqa: F811
    root, corpus, teacher = setup
    start = student(root / "student_ckpt", dropout=0.1)  # dropout: RNG state must resume too
    main(general_args(root, corpus, teacher, start, root / "ckpt_straight"))
    return start, curve(root / "ckpt_straight")


def interrupted_run(setup, start: Path, out: Path) -> list[str]:  # noqa: F811
    """A run stopped at step 4 with checkpoints at steps 2 (previous) and 4 (current)."""
    root, corpus, teacher = setup
    args = [*general_args(root, corpus, teacher, start, out), "--save-every", "2"]
    main([*args, "--stop-after", "4"])
    assert json.loads((out / "checkpoint" / "progress.json").read_text())["step"] == 4
    assert json.loads((out / "checkpoint.previous" / "progress.json").read_text())["step"] == 2
    assert not (out / "checkpoint.partial").exists()
    return args


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damaged", ["model.safetensors", "optimizer.bin", "progress.json"])
def test_truncated_file_falls_back_to_previous_checkpoint(setup, straight, damaged, capsys):  # noqa: F811
    root = setup[0]
    start, expected = straight
    out = root / f"ckpt_{damaged}"
    args = interrupted_run(setup, start, out)
    truncate(out / "checkpoint" / damaged)
    assert problem(out / "checkpoint") is not None
    capsys.readouterr()
    main(args)
    err = capsys.readouterr()
    warnings = [line for line in err.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and damaged in warnings[0], err.err[-2000:]
    assert "checkpoint.previous at step 2" in err.out
    assert (out / "checkpoint.damaged" / damaged).is_file()  # kept for inspection
    assert problem(out / "checkpoint") is None
    assert (out / "config.json").is_file()
    assert not (out / "checkpoint.previous").exists()  # a finished run keeps no fallback
    resumed = curve(out)
    assert sorted(resumed) == sorted(expected)
    assert [resumed[s] for s in sorted(resumed)] == pytest.approx(
        [expected[s] for s in sorted(expected)], rel=1e-5
    )


def test_both_checkpoints_damaged_starts_afresh(setup, straight, capsys):  # noqa: F811
    root = setup[0]
    start, expected = straight
    out = root / "ckpt_both"
    args = interrupted_run(setup, start, out)
    truncate(out / "checkpoint" / "model.safetensors")
    (out / "checkpoint.previous" / "progress.json").write_text("{")
    capsys.readouterr()
    main(args)
    err = capsys.readouterr().err
    assert sum(line.startswith("warning: damaged checkpoint") for line in err.splitlines()) == 2
    resumed = curve(out)
    assert [resumed[s] for s in sorted(resumed)] == pytest.approx(
        [expected[s] for s in sorted(expected)], rel=1e-5
    )


def test_interrupted_save_leaves_the_last_whole_checkpoint(setup, straight):  # noqa: F811
    """A kill while writing leaves ``checkpoint.partial`` (ignored); a kill between the two
    renames leaves only ``checkpoint.previous`` (used)."""
    root = setup[0]
    start, expected = straight
    out = root / "ckpt_killed"
    args = interrupted_run(setup, start, out)
    (out / "checkpoint").rename(out / "checkpoint.partial")
    (out / "checkpoint.partial" / "model.safetensors").write_bytes(b"half")
    main(args)
    resumed = curve(out)
    assert [resumed[s] for s in sorted(resumed)] == pytest.approx(
        [expected[s] for s in sorted(expected)], rel=1e-5
    )
    assert not (out / "checkpoint.partial").exists()
    assert not (out / ".final.partial").exists()
