"""The paper's pair, BERT-base (12 layers, 768 hidden) -> TinyBERT4, random weights, both stages;
and the optimiser settings of the released code (huawei-noah/Pretrained-Language-Model,
TinyBERT/task_distill.py, general_distill.py, transformer/optimization.py)."""

import json
import math

import pytest
import torch
from accelerate import Accelerator
from tiny import make_tokenizer, tiny_config
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from distill.distiller import (
    IntermediateDistiller,
    gold_label_step,
    prediction_step,
    teacher_logits,
)
from distill.glue import collator
from distill.losses import prediction_loss
from distill.mapping import layer_mapping
from distill.models import new_student
from distill.training import (
    Batches,
    LoopOptions,
    TrainConfig,
    clip_gradients,
    parameter_groups,
    train,
)

LR = 5e-5
SMALL_BATCHES = LoopOptions(batch_size=4, log_every=1)

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
    assert len(distiller.projections.maps) == 2  # one W_e, one W_h (eqs. 8-9)
    assert distiller.projections.maps[0].weight.shape == (768, 312)
    data = dataset(tokenizer)
    lengths = [len(f["input_ids"]) for f in data]

    def stage1(model, batch):
        return model(batch, *distiller.teacher_targets(teacher, batch))

    def save(model, directory):
        model.save_pretrained(directory)

    config = TrainConfig(
        tmp_path / "stage1", 1, LR, LoopOptions(batch_size=4, log_every=1), "stage1"
    )
    trained = train(
        config,
        distiller,
        stage1,
        Batches(data, lengths, collator(tokenizer)),
        lambda d, directory: save(d.student, directory),
    )
    config = TrainConfig(
        tmp_path / "stage2", 1, LR, LoopOptions(batch_size=4, log_every=1), "stage2"
    )
    train(
        config,
        trained.student,
        lambda m, b: prediction_step(m, b, teacher_logits(teacher), 1.0),
        Batches(data, lengths, collator(tokenizer)),
        save,
    )
    for stage in ("stage1", "stage2"):
        log = [json.loads(line) for line in (tmp_path / stage / "log.jsonl").open()]
        assert [r["step"] for r in log] == [1, 2]
        assert all(math.isfinite(r["loss"]) for r in log)
    saved = BertForSequenceClassification.from_pretrained(tmp_path / "stage2")
    assert saved.config.hidden_size == 312


def released_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """task_distill.py (and general_distill.py), the optimizer's parameter groups verbatim."""
    param_optimizer = list(model.named_parameters())
    no_decay = ["bias", "LayerNorm.bias", "LayerNorm.weight"]
    return [
        [p for n, p in param_optimizer if not any(nd in n for nd in no_decay)],
        [p for n, p in param_optimizer if any(nd in n for nd in no_decay)],
    ]


def test_weight_decay_groups_are_the_released_ones(paper_pair):
    _, teacher, student = paper_pair
    distiller = IntermediateDistiller(student, teacher, layer_mapping("uniform", 4, 12))
    ours = parameter_groups(distiller, LoopOptions().weight_decay)
    released = released_groups(distiller)
    assert [[id(p) for p in g["params"]] for g in ours] == [[id(p) for p in g] for g in released]
    assert [g["weight_decay"] for g in ours] == [0.01, 0.0]  # released: 0.01 and 0.0
    exempt = {id(p) for p in ours[1]["params"]}
    layer = student.bert.encoder.layer[0]
    assert id(layer.output.LayerNorm.weight) in exempt and id(layer.output.dense.bias) in exempt
    assert id(layer.output.dense.weight) not in exempt


def released_soft_cross_entropy(predicts, targets):
    """task_distill.py, verbatim: a mean over batch *and classes*."""
    student_likelihood = torch.nn.functional.log_softmax(predicts, dim=-1)
    targets_prob = torch.nn.functional.softmax(targets, dim=-1)
    return (-targets_prob * student_likelihood).mean()


@pytest.mark.parametrize("classes", [2, 3])
def test_released_soft_cross_entropy_is_eq10_divided_by_the_number_of_classes(classes):
    generator = torch.Generator().manual_seed(classes)
    student, teacher = torch.randn(2, 16, classes, generator=generator)
    ours = prediction_loss(student, teacher)  # eq. 10: a sum over classes, mean over batch
    assert released_soft_cross_entropy(student, teacher).item() == pytest.approx(
        ours.item() / classes, rel=1e-6
    )


def test_clipping_per_tensor_is_bertadams(tmp_path):
    """BertAdam (max_grad_norm=1.0 by default) clips each parameter's gradient on its own."""
    assert LoopOptions().max_grad_norm == 1.0
    model = nn.Linear(3, 2)
    model.weight.grad = torch.full((2, 3), 2.0)  # norm sqrt(24): clipped to 1
    model.bias.grad = torch.tensor([0.3, 0.4])  # norm 0.5: unchanged
    clip_gradients(Accelerator(cpu=True), model, LoopOptions(clipping="per_tensor"))
    assert model.weight.grad.norm().item() == pytest.approx(1.0, rel=1e-6)
    assert model.bias.grad.tolist() == pytest.approx([0.3, 0.4])
    global_config = LoopOptions()  # torch's rule: one norm over all
    model.weight.grad, model.bias.grad = torch.full((2, 3), 2.0), torch.tensor([0.3, 0.4])
    clip_gradients(Accelerator(cpu=True), model, global_config)
    total = torch.cat([model.weight.grad.flatten(), model.bias.grad]).norm().item()
    assert total == pytest.approx(1.0, rel=1e-6)
    assert model.bias.grad.norm().item() < 0.5


def logged_rates(tmp_path, tokenizer, schedule: str) -> list[float]:
    torch.manual_seed(0)
    model = BertForSequenceClassification(
        tiny_config(len(tokenizer), layers=1, hidden=8, heads=2, intermediate=16, num_labels=2)
    )
    data = dataset(tokenizer)
    out = tmp_path / schedule
    config = TrainConfig(out, 2, LR, LoopOptions(batch_size=4, log_every=1), lr_schedule=schedule)
    train(
        config,
        model,
        gold_label_step,
        Batches.of(data, collator(tokenizer)),
        lambda m, directory: m.save_pretrained(directory),
    )
    return [json.loads(line)["lr"] for line in (out / "log.jsonl").open()]


def test_stage1_constant_rate_is_the_released_schedule_none(paper_pair, tmp_path):
    """Released stage 1 (``not pred_distill``): ``schedule='none'``, the rate itself at
    every step; stage 2: ``warmup_linear``."""
    tokenizer = paper_pair[0]
    constant = logged_rates(tmp_path, tokenizer, "constant")
    assert constant == [LR] * 4
    linear = logged_rates(tmp_path, tokenizer, "linear")
    assert (
        linear[0] == constant[0]
        and linear == sorted(linear, reverse=True)
        and linear[-1] < linear[0]
    )
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(tmp_path, 1, LR, lr_schedule="cosine")


def test_stage1_epochs_are_the_papers():
    """Sec. 4.2 and footnote 4: 20 intermediate-distillation epochs, 10 for the large sets
    (MNLI, QQP, QNLI -- SST-2 is not one), 50 for CoLA."""
    from distill.experiments.profiles import PROFILES
    from distill.glue import TASKS

    epochs = {name: task.stage1_epochs for name, task in TASKS.items()}
    assert epochs == {
        "cola": 50,
        "sst-2": 20,
        "mrpc": 20,
        "sts-b": 20,
        "qqp": 10,
        "mnli": 10,
        "qnli": 10,
        "rte": 20,
        "wnli": 20,
    }
    assert PROFILES["paper"].stage1_epochs is None  # the paper profile takes the task's


def test_official_padding_pads_to_max_length_and_matches_the_released_attention_loss(tmp_path):
    """Released ``convert_examples_to_features`` pads every sequence to max_seq_length and
    ``task_distill.py`` takes the MSE of the masked scores with every score <= -100 zeroed;
    ``--padding official`` gives the same batch and the same loss value."""
    from distill.attention import forward_with_scores
    from distill.losses import attention_loss

    tokenizer = make_tokenizer(tmp_path)
    features = dataset(tokenizer)[:3]
    batch = collator(tokenizer, pad_to=64)(features)
    assert batch["input_ids"].shape == (3, 64)
    assert batch["attention_mask"].sum(1).tolist() == [len(f["input_ids"]) for f in features]
    torch.manual_seed(0)
    config = tiny_config(len(tokenizer), layers=1, hidden=16, heads=4, intermediate=32)
    student = BertForSequenceClassification(config).eval()
    teacher = BertForSequenceClassification(config).eval()
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    (_, (student_scores,)), (_, (teacher_scores,)) = (
        forward_with_scores(model, **inputs) for model in (student, teacher)
    )
    # the released BertSelfAttention returns its scores with the extended mask added
    extended = (1.0 - batch["attention_mask"][:, None, None, :].float()) * -10000.0

    def released(scores):
        scores = scores + extended
        return torch.where(scores <= -1e2, torch.zeros_like(scores), scores)

    expected = nn.MSELoss()(released(student_scores), released(teacher_scores))
    loss = attention_loss(student_scores, teacher_scores, batch["attention_mask"], "official")
    torch.testing.assert_close(loss, expected)
