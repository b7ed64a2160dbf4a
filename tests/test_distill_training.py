"""Resuming continues the same loss curve; a 2-process CPU run matches a 1-process run."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny import make_masked_lm, make_tokenizer, tiny_config
from transformers import BertModel

from distill.cli import main

REPO = Path(__file__).resolve().parents[1]
SENTENCES = [
    "a great fun movie",
    "i love this story",
    "a really good film",
    "funny and happy actors",
    "a terrible boring movie",
    "i hate this plot",
    "a very bad film",
    "sad and slow story",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    corpus = root / "corpus.txt"
    corpus.write_text("\n\n".join(SENTENCES))  # four words each: no padding in any batch
    teacher = make_masked_lm(root / "teacher", layers=4, hidden=32, heads=4, intermediate=64)
    return root, corpus, teacher


def student(directory: Path, dropout: float) -> Path:
    tokenizer = make_tokenizer(directory)
    torch.manual_seed(1)
    config = tiny_config(
        len(tokenizer),
        layers=2,
        hidden=16,
        heads=4,
        intermediate=32,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    BertModel(config).save_pretrained(directory)
    return directory


def general_args(root, corpus, teacher, student_dir, out) -> list[str]:
    return [
        "general",
        "--teacher",
        str(teacher),
        "--student",
        str(student_dir),
        "--corpus",
        str(corpus),
        "--output-dir",
        str(out),
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--log-every",
        "1",
        "--seed",
        "3",
    ]


def losses(out: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in records if r["stage"] == "general"]


def test_resume_continues_the_same_loss_curve(setup):
    root, corpus, teacher = setup
    start = student(root / "student_dropout", dropout=0.1)  # dropout: RNG state must resume too
    main(general_args(root, corpus, teacher, start, root / "straight"))
    interrupted = general_args(root, corpus, teacher, start, root / "resumed")
    main([*interrupted, "--stop-after", "3"])  # mid-epoch: epoch 1, one batch done
    assert [s for s, _ in losses(root / "resumed")] == [1, 2, 3]
    assert not (root / "resumed" / "config.json").exists()
    progress = root / "resumed" / "checkpoint" / "progress.json"
    banked = json.loads(progress.read_text())["seconds"]
    assert banked > 0
    main([*interrupted, "--stop-after", "3"])  # the same command resumes
    assert json.loads(progress.read_text())["seconds"] > banked  # time of both processes
    straight, resumed = losses(root / "straight"), losses(root / "resumed")
    assert [s for s, _ in resumed] == list(range(1, 7))
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in straight], rel=1e-5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_cpu_run_matches_one_process(setup):
    root, corpus, teacher = setup
    tokenizer = make_tokenizer(root / "tokenizer")
    # equal lengths: each process's masked mean then equals the global mean
    assert {len(tokenizer(s)["input_ids"]) for s in SENTENCES} == {6}
    start = student(root / "student_nodropout", dropout=0.0)
    main(general_args(root, corpus, teacher, start, root / "single"))
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        "-m",
        "distill",
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [*launch, *general_args(root, corpus, teacher, start, root / "double")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((root / "double" / "train_config.json").read_text())["processes"] == 2
    single, double = losses(root / "single"), losses(root / "double")
    assert [s for s, _ in double] == [s for s, _ in single]
    assert [loss for _, loss in double] == pytest.approx([loss for _, loss in single], rel=1e-4)


def test_gradient_accumulation_counts_optimizer_steps(setup):
    root, corpus, teacher = setup
    start = student(root / "student_accum", dropout=0.1)
    args = general_args(root, corpus, teacher, start, root / "accum")
    main([*args, "--batch-size", "2", "--grad-accum", "2", "--epochs", "1"])
    # 8 sequences, micro-batches of 2, 2 micro-batches per update: 2 optimizer steps
    assert [s for s, _ in losses(root / "accum")] == [1, 2]
