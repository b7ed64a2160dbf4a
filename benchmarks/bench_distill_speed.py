"""CPU speed of TinyBERT: inference vs BERT-base, and one intermediate-distillation step.

Random weights (speed does not depend on them) at the real vocabulary size. The paper
reports TinyBERT4 9.4x faster than BERT-base at inference on GPU; this prints the CPU
figure next to it. Training throughput times a whole stage-1 step -- teacher forward
with score capture, student forward/backward, optimizer step -- because the teacher
forward is the bulk of the cost. Usage::

    PYTHONPATH=. python benchmarks/bench_distill_speed.py [--repeats 3] [--threads 2]

(``PYTHONPATH`` is unnecessary once the project is installed with ``pip install -e .``.)
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import BertConfig, BertModel

from distill.distiller import IntermediateDistiller
from distill.mapping import layer_mapping
from distill.models import STUDENT_PRESETS

VOCAB = 30522
BERT_BASE = {
    "num_hidden_layers": 12,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
}
MINILM = {
    "num_hidden_layers": 6,
    "hidden_size": 384,
    "intermediate_size": 1536,
    "num_attention_heads": 12,
}


def model(sizes: dict[str, int]) -> BertModel:
    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=VOCAB, **sizes))


def batch(size: int, length: int) -> dict[str, torch.Tensor]:
    ids = torch.randint(1000, VOCAB, (size, length))
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
    }


def seconds_per_call(function, repeats: int) -> float:
    function()  # warm-up: allocator and kernel selection
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def inference(repeats: int, size: int) -> None:
    models = (model(BERT_BASE).eval(), model(STUDENT_PRESETS["tinybert4"]).eval())
    print(f"inference, batch {size}: examples/s")
    print(f"{'length':>6} {'BERT-base':>10} {'TinyBERT4':>10} {'speed-up':>9}")
    for length in (64, 128):
        inputs = batch(size, length)
        with torch.inference_mode():
            times = [seconds_per_call(lambda m=m, x=inputs: m(**x), repeats) for m in models]
        print(
            f"{length:>6} {size / times[0]:>10.1f} {size / times[1]:>10.1f} "
            f"{times[0] / times[1]:>8.1f}x"
        )
    print("(paper, GPU: 9.4x)")


def training_step(teacher_sizes: dict[str, int], preset: str, repeats: int, size: int, length: int):
    teacher = model(teacher_sizes).eval().requires_grad_(False)
    student = model(STUDENT_PRESETS[preset])
    mapping = layer_mapping(
        "uniform", student.config.num_hidden_layers, teacher.config.num_hidden_layers
    )
    distiller = IntermediateDistiller(student, teacher, mapping)
    optimizer = torch.optim.AdamW(distiller.parameters(), lr=5e-5)
    inputs = batch(size, length)

    def step() -> None:
        loss = distiller(inputs, *distiller.teacher_targets(teacher, inputs))["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return size / seconds_per_call(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    inference(args.repeats, args.batch_size)
    print(f"\nintermediate distillation step, batch {args.batch_size}, length 64: examples/s")
    pairs = [
        ("BERT-base -> tinybert4", BERT_BASE, "tinybert4"),
        ("MiniLM 6/384/12 -> cpu", MINILM, "cpu"),
    ]
    for name, teacher_sizes, preset in pairs:
        rate = training_step(teacher_sizes, preset, args.repeats, args.batch_size, 64)
        print(f"{name:<24} {rate:>8.1f}")


if __name__ == "__main__":
    main()
