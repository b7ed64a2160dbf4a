"""TrainConfig.report_to sends the JSONL log's numbers to Accelerate's TensorBoard tracker."""

import json

import pytest
import torch
from tiny import make_tokenizer, tiny_config
from transformers import BertForSequenceClassification

from distill.distiller import gold_label_step
from distill.glue import collator
from distill.training import Batches, Evaluation, LoopOptions, TrainConfig, train

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="tensorboard is the optional 'tracking' extra",
)


def test_tensorboard_event_file_holds_the_logged_losses(tmp_path):
    tokenizer = make_tokenizer(tmp_path / "tok")
    encoded = tokenizer(["a great fun movie", "i hate this plot", "love it", "a bad film"] * 2)
    data = [
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
    torch.manual_seed(0)
    model = BertForSequenceClassification(
        tiny_config(len(tokenizer), layers=1, hidden=8, heads=2, intermediate=16, num_labels=2)
    )
    out = tmp_path / "run"
    loop = LoopOptions(batch_size=4, log_every=1, report_to=("tensorboard",))
    config = TrainConfig(out, epochs=2, learning_rate=5e-5, loop=loop, stage="stage2")
    train(
        config,
        model,
        gold_label_step,
        Batches.of(data, collator(tokenizer)),
        lambda m, directory: m.save_pretrained(directory),
        Evaluation(lambda m: {"dev/accuracy": 0.5}),
    )
    logged = [json.loads(line) for line in (out / "log.jsonl").open()]
    (folder,) = (out / "tracking").iterdir()
    assert folder.name == "stage2"
    events = event_accumulator.EventAccumulator(str(folder))
    events.Reload()
    loss = [(e.step, e.value) for e in events.Scalars("loss")]
    expected = [(r["step"], r["loss"]) for r in logged if r["stage"] == "stage2"]
    assert [s for s, _ in loss] == [s for s, _ in expected] == [1, 2, 3, 4]
    assert [v for _, v in loss] == pytest.approx([v for _, v in expected], rel=1e-6)
    assert [e.step for e in events.Scalars("lr")] == [1, 2, 3, 4]
    assert [(e.step, e.value) for e in events.Scalars("eval/dev/accuracy")] == [(2, 0.5), (4, 0.5)]


def test_report_to_flag_reaches_the_tracker(tmp_path):
    """``--report-to tensorboard`` on the command line (here: teacher fine-tuning)."""
    from test_distill_cli import FAST, run, write_rte
    from tiny import make_masked_lm

    data = write_rte(tmp_path / "glue")
    bert = make_masked_lm(tmp_path / "bert", layers=2, hidden=16, heads=2, intermediate=32)
    out = tmp_path / "teacher"
    run(
        f"finetune --task rte --data-dir {data} --model {bert} --output-dir {out} "
        f"--epochs 1 --report-to tensorboard {FAST}"
    )
    events = event_accumulator.EventAccumulator(str(out / "tracking" / "finetune"))
    events.Reload()
    logged = [json.loads(line) for line in (out / "log.jsonl").open()]
    steps = [r["step"] for r in logged if r["stage"] == "finetune"]
    assert [e.step for e in events.Scalars("loss")] == steps == [1, 2, 3, 4]
