"""Model cards: hub-conventional YAML, exact metrics, no machine paths, atomic writes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import ModelCard, ModelCardData
from transformers import AutoModelForSequenceClassification, BertForSequenceClassification

from distill import model_card
from distill.glue import TASKS
from distill.metrics import compute_metrics
from distill.model_card import CardRecipe, card_for, read_card_metrics, write_card
from tests.tiny import make_tokenizer, tiny_config

ROOT = Path(__file__).resolve().parents[1]


def student_recipe(tmp_path: Path, **changes: object) -> CardRecipe:
    """A student's recipe as the runner sees it: absolute paths inside and outside ROOT."""
    run = ROOT / "runs" / "cpu" / "runs" / "full" / "mrpc" / "seed0"
    recipe = CardRecipe(
        kind="student",
        task="mrpc",
        base_model="minilm",
        teacher=str(ROOT / "runs" / "cpu" / "teacher" / "mrpc" / "best"),
        student_preset="cpu",
        metrics={"dev/acc": 1 / 3, "dev/f1": 0.1 + 0.2},
        command=(
            *("python", "-m", "distill", "task", "--experiment", "full"),
            *("--task", "mrpc", "--data-dir", str(ROOT / "runs" / "cpu" / "glue")),
            f"--teacher={ROOT / 'runs' / 'cpu' / 'teacher' / 'mrpc' / 'best'}",
            *("--output-dir", str(run), "--teacher-cache", str(tmp_path / "cache")),
            *("--augmented-train", str(ROOT.parent / "shared" / "train_aug.tsv")),
        ),
        commit="0123abc",
        seed=0,
        profile="cpu",
        experiment="full",
        experiment_label="TinyBERT4",
        mapping=(0, 2, 4, 6),
        objectives=("embd", "attn", "hidn", "pred"),
        temperature=1.0,
        learning_rates={"stage1": 1e-3, "stage2": 3e-4},
        epochs={"stage1": 2, "stage2": 1},
    )
    return dataclasses.replace(recipe, **changes)


def test_yaml_follows_hub_conventions(tmp_path):
    card = card_for(student_recipe(tmp_path), ROOT)
    reloaded = ModelCard(str(card))  # parses the YAML block into ModelCardData
    assert isinstance(reloaded.data, ModelCardData)
    data = reloaded.data.to_dict()
    assert data["license"] == "apache-2.0"
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["datasets"] == ["nyu-mll/glue"]
    assert data["language"] == "en"
    assert data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "text-classification"
    assert {"tinybert", "knowledge-distillation", "mrpc"} <= set(data["tags"])
    (entry,) = data["model-index"]
    (result,) = entry["results"]
    assert result["dataset"] == {
        "name": "GLUE MRPC",
        "type": "nyu-mll/glue",
        "config": "mrpc",
        "split": "validation",
    }
    assert [metric["type"] for metric in result["metrics"]] == ["accuracy", "f1"]


def test_hub_config_names_and_teacher_licence(tmp_path):
    recipe = student_recipe(tmp_path, task="sst-2", metrics={"dev/acc": 0.5}, license="mit")
    data = card_for(recipe, ROOT).data.to_dict()
    dataset = data["model-index"][0]["results"][0]["dataset"]
    assert (dataset["config"], dataset["name"]) == ("sst2", "GLUE SST-2")
    assert data["license"] == "mit"


def test_body_holds_recipe_command_and_loading(tmp_path):
    text = card_for(student_recipe(tmp_path), ROOT).text
    for row in (
        "| layer mapping | 0, 2, 4, 6 |",
        "| objectives | embd, attn, hidn, pred |",
        "| experiment | full (TinyBERT4) |",
        "| profile | cpu |",
        "| learning rates | stage1 0.001, stage2 0.0003 |",
        "| commit | 0123abc |",
    ):
        assert row in text
    assert "python -m distill task --experiment full --task mrpc --data-dir runs/cpu/glue" in text
    assert "AutoModelForSequenceClassification.from_pretrained(folder)" in text


def test_metrics_round_trip_exactly(tmp_path):
    metrics = {
        "dev_matched/acc": 0.8412633723892002,
        "dev_mismatched/acc": 2 / 3,
        "dev/mcc": -0.02,
        "dev/spearman": 0.1 + 0.2,
    }
    recipe = student_recipe(tmp_path, task="mnli", metrics=metrics)
    write_card(tmp_path, recipe, ROOT)
    assert read_card_metrics(tmp_path) == metrics
    loaded = ModelCard.load(tmp_path / "README.md")
    assert {r.dataset_split for r in loaded.data.eval_results} >= {"validation_matched"}


def test_no_absolute_path_in_card(tmp_path):
    outside = tmp_path / "key=value" / "teacher-folder"
    recipe = student_recipe(tmp_path, base_model=str(ROOT / "runs" / "x"), teacher=str(outside))
    card = card_for(recipe, ROOT)
    assert card.data.base_model is None  # a local folder is no hub id
    text = str(card)
    for machine_path in (str(ROOT), str(ROOT.parent), str(tmp_path), str(Path.home())):
        assert machine_path not in text
    assert not re.search(r"(^|[\s`=|(])/\w", text, re.MULTILINE)
    assert "--data-dir runs/cpu/glue" in text  # inside the project: relative to it
    assert "--augmented-train ../shared/train_aug.tsv" in text  # beside it, as profiles write
    assert "--teacher-cache cache" in text  # elsewhere: the last part only
    assert "teacher-folder" in text


def test_pip_minilm_folder_becomes_its_short_name(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "all-MiniLM-L6-v2"
    monkeypatch.setattr(model_card, "_pip_minilm", lambda: folder)
    recipe = student_recipe(tmp_path, kind="teacher", teacher=None, base_model=str(folder))
    card = card_for(recipe, ROOT)
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert "| base model | minilm |" in card.text


def test_write_is_atomic(tmp_path, monkeypatch):
    recipe = student_recipe(tmp_path)
    previous = write_card(tmp_path, recipe, ROOT).read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(model_card, "_body", broken)
    with pytest.raises(RuntimeError):
        write_card(tmp_path, dataclasses.replace(recipe, seed=1), ROOT)
    monkeypatch.undo()
    monkeypatch.setattr(model_card.os, "replace", broken)
    with pytest.raises(RuntimeError):
        write_card(tmp_path, dataclasses.replace(recipe, seed=1), ROOT)
    assert (tmp_path / "README.md").read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_no_card_left_when_first_write_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(model_card, "_body", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_card(tmp_path, student_recipe(tmp_path), ROOT)
    assert list(tmp_path.iterdir()) == []


def test_recipe_checks_its_kind(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        student_recipe(tmp_path, kind="general")
    with pytest.raises(ValueError, match="teacher"):
        student_recipe(tmp_path, teacher=None)
    with pytest.raises(ValueError, match="<split>/<metric>"):
        card_for(student_recipe(tmp_path, metrics={"f1": 0.5}), ROOT)
    with pytest.raises(ValueError, match="unknown GLUE task"):
        card_for(student_recipe(tmp_path, task="imdb"), ROOT)


def test_saved_student_with_card_still_loads(tmp_path):
    tokenizer = make_tokenizer(tmp_path)
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_config(len(tokenizer), num_labels=2))
    model.save_pretrained(tmp_path)
    card = write_card(tmp_path, student_recipe(tmp_path), ROOT)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert card.stat().st_mode == (tmp_path / "config.json").stat().st_mode  # readable alike
    header = card.read_text(encoding="utf-8").split("---")[1]
    assert yaml.safe_load(header)["library_name"] == "transformers"


@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_every_glue_task_metric_round_trips(tmp_path, task_name):
    """The metric names evaluation really produces, split by split, come back unchanged."""
    task = TASKS[task_name]
    generator = np.random.default_rng(0)
    labels = generator.integers(0, task.num_labels, 40) if task.labels else generator.random(40)
    predictions = generator.random((40, task.num_labels))
    metrics = {
        f"{split}/{name}": value
        for split in task.dev_splits
        for name, value in compute_metrics(task, predictions, labels).items()
    }
    write_card(tmp_path, student_recipe(tmp_path, task=task_name, metrics=metrics), ROOT)
    assert read_card_metrics(tmp_path) == metrics
    results = ModelCard.load(tmp_path / "README.md").data.eval_results
    assert {result.metric_type for result in results} <= set(model_card.HUB_METRICS.values())
