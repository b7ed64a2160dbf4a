"""The paper's pair, BERT-base (12 layers, 768 hidden) -> TinyBERT4, random weights, both stages."""

import json
import math

import pytest
import torch
from tiny import make_tokenizer
from transformers import BertConfig, BertForSequenceClassification

from distill.distiller import IntermediateDistiller, prediction_step, teacher_logits
from distill.glue import collator
from distill.mapping import layer_mapping
from distill.models import new_student
from distill.training import TrainConfig, train

SENTENCES = [
    "a great fun movie",
    "i hate this plot",
    "how can anyone drive such a small car ?",
    "the story was really boring",
    "love it",
    "a very bad film",
    "funny and happy",
    "the actors were terrible",
]


@pytest.fixture(scope="module")
def paper_pair(tmp_path_factory):
    tokenizer = make_tokenizer(tmp_path_factory.mktemp("tok"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), num_labels=2)  # BERT-base defaults
    teacher = BertForSequenceClassification(config).eval().requires_grad_(False)
    student = new_student("tinybert4", teacher.config, with_head=True, num_labels=2)
    return tokenizer, teacher, student


def dataset(tokenizer):
    encoded = tokenizer(SENTENCES)
    return [
        {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": i % 2}
        for i, (ids, types, mask) in enumerate(
            zip(
                encoded["input_ids"],
                encoded["token_type_ids"],
                encoded["attention_mask"],
                strict=True,
            )
        )
    ]


def test_paper_configuration_runs_both_stages(paper_pair, tmp_path):
    tokenizer, teacher, student = paper_pair
    assert (teacher.config.num_hidden_layers, teacher.config.hidden_size) == (12, 768)
    assert (student.config.num_hidden_layers, student.config.hidden_size) == (4, 312)
    assert student.config.intermediate_size == 1200 and student.config.num_attention_heads == 12
    mapping = layer_mapping("uniform", 4, 12)
    distiller = IntermediateDistiller(student, teacher, mapping)
    assert len(distiller.projections.maps) == 5
    assert distiller.projections.maps[0].weight.shape == (768, 312)
    data = dataset(tokenizer)
    lengths = [len(f["input_ids"]) for f in data]

    def stage1(model, batch):
        return model(batch, *distiller.teacher_targets(teacher, batch))

    def save(model, directory):
        model.save_pretrained(directory)

    config = TrainConfig(tmp_path / "stage1", epochs=1, batch_size=4, log_every=1, stage="stage1")
    trained = train(
        config,
        distiller,
        stage1,
        data,
        lengths,
        collator(tokenizer),
        lambda d, directory: save(d.student, directory),
    )
    config = TrainConfig(tmp_path / "stage2", epochs=1, batch_size=4, log_every=1, stage="stage2")
    train(
        config,
        trained.student,
        lambda m, b: prediction_step(m, b, teacher_logits(teacher)),
        data,
        lengths,
        collator(tokenizer),
        save,
    )
    for stage in ("stage1", "stage2"):
        log = [json.loads(line) for line in (tmp_path / stage / "log.jsonl").open()]
        assert [r["step"] for r in log] == [1, 2]
        assert all(math.isfinite(r["loss"]) for r in log)
    saved = BertForSequenceClassification.from_pretrained(tmp_path / "stage2")
    assert saved.config.hidden_size == 312
