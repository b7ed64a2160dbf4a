"""Would fusing the element-wise passes (``torch.compile``) reach the speed targets, and
would it compute the same thing?

The profiles in ``benchmarks/results.md`` leave, after the matrix products, only many
element-wise passes (GELU, softmax, copies, multiplications), none above 5% of a step;
fusing them is what ``torch.compile`` (Inductor, C++ on CPU) does. This times, in one
process and interleaved, the eager and the compiled forward of the two hot models at a real
batch -- the augmentation masked LM (MiniLM from ``../shared``, paired inputs of SST-2
sentences, 64 masked copies) and the ``cpu`` student's forward with the MiniLM teacher's
targets (MRPC, 32 pairs, eval mode so both sides compute the same function) -- and
compares what they compute: the largest logit/loss difference and, for the masked LM,
whether the top-15 candidate lists stay the same. Usage, from the repository's root::

    PYTHONPATH=. python benchmarks/compile_check.py [--pairs 20] [--record]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from augment.mlm.loading import minilm_encoder_path
from benchmarks.bench_distill_hotpaths import commit, machine
from distill.distiller import IntermediateDistiller
from distill.glue import GlueDataset, get_task, read_tsv
from distill.mapping import layer_mapping
from distill.models import load_teacher, new_student

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO.parent / "shared" / "assets"
RESULTS = Path(__file__).with_name("results.md")


def interleaved(eager: Callable[[], object], compiled: Callable[[], object], pairs: int):
    """Median thread-CPU seconds of each, measured in alternation after one warm-up."""
    eager(), compiled()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(pairs):
        for function, store in ((eager, times[0]), (compiled, times[1])):
            start = time.thread_time()
            function()
            store.append(time.thread_time() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def masked_lm_batch(tokenizer, copies: int) -> dict[str, torch.Tensor]:
    """SST-2 sentences as augment pairs them (masked copy, original), one [MASK] each."""
    lines = (ASSETS / "glue" / "SST-2" / "train.tsv").read_text(encoding="utf-8").splitlines()
    sentences = [line.split("\t")[0] for line in lines[1 : copies + 1]]
    masked = []
    for sentence in sentences:
        words = sentence.split()
        words[len(words) // 2] = tokenizer.mask_token
        masked.append(" ".join(words))
    return tokenizer(masked, sentences, padding=True, return_tensors="pt")


def check_masked_lm(pairs: int) -> dict:
    path = ASSETS / "models" / "minilm-wiki-mlm"
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForMaskedLM.from_pretrained(path).eval()
    batch = masked_lm_batch(tokenizer, 64)
    rows = torch.arange(batch["input_ids"].shape[0])
    positions = (batch["input_ids"] == tokenizer.mask_token_id).int().argmax(dim=1)
    compiled = torch.compile(model)

    def run(m):
        with torch.inference_mode():
            return m(**batch).logits[rows, positions]

    eager_s, compiled_s = interleaved(lambda: run(model), lambda: run(compiled), pairs)
    eager, fused = run(model), run(compiled)
    same_top = (eager.topk(15).indices == fused.topk(15).indices).all(dim=1)
    return {
        "path": "augmentation masked LM forward, 64 masked SST-2 pairs",
        "eager_ms": eager_s * 1e3,
        "compiled_ms": compiled_s * 1e3,
        "max_abs_diff": (eager - fused).abs().max().item(),
        "same": f"{int(same_top.sum())}/{len(same_top)} top-15 lists",
    }


def check_stage1(pairs: int) -> dict:
    teacher_path = minilm_encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(teacher_path)
    teacher = load_teacher(teacher_path, with_head=False)
    examples = read_tsv(get_task("mrpc"), ASSETS / "glue" / "MRPC" / "train.tsv")[:32]
    features = GlueDataset(examples, tokenizer, 128).features
    batch = tokenizer.pad(
        [{"input_ids": f["input_ids"], "token_type_ids": f["token_type_ids"]} for f in features],
        return_tensors="pt",
    )
    torch.manual_seed(0)
    student = new_student("cpu", teacher.config, with_head=False)
    mapping = layer_mapping("uniform", 3, teacher.config.num_hidden_layers)
    distiller = IntermediateDistiller(student, teacher, mapping).eval()
    with torch.no_grad():
        targets = distiller.teacher_targets(teacher, batch)
    compiled = torch.compile(distiller)

    def loss(module):
        return module(batch, *targets)["loss"]

    def step(module):
        distiller.zero_grad(set_to_none=True)
        value = loss(module)
        value.backward()
        return value

    eager_s, compiled_s = interleaved(lambda: step(distiller), lambda: step(compiled), pairs)
    difference = (loss(distiller) - loss(compiled)).abs().item()
    return {
        "path": "stage-1 student forward + backward, MRPC 32 pairs (eval mode)",
        "eager_ms": eager_s * 1e3,
        "compiled_ms": compiled_s * 1e3,
        "max_abs_diff": difference,
        "same": "loss equal" if difference == 0 else "loss differs",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--record", action="store_true", help="append to benchmarks/results.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    rows = []
    for check in (check_masked_lm, check_stage1):
        try:
            row = check(args.pairs)
        except Exception as error:  # a compiler failure is a finding too
            row = {"path": check.__name__, "error": f"{type(error).__name__}: {error}"[:200]}
        print(row, flush=True)
        rows.append(row)
    if args.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        lines = [
            f"\n`PYTHONPATH=. python benchmarks/compile_check.py --pairs {args.pairs}` "
            f"({stamp} UTC, commit {commit()}, {machine()}, {args.threads} thread(s), load "
            f"{load:.2f}-{os.getloadavg()[0]:.2f}):\n",
            "| path | eager | compiled | speed-up | largest difference | same result |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows:
            if "error" in row:
                lines.append(f"| {row['path']} | – | – | – | – | {row['error']} |")
                continue
            ratio = row["eager_ms"] / row["compiled_ms"]
            lines.append(
                f"| {row['path']} | {row['eager_ms']:.1f} ms | {row['compiled_ms']:.1f} ms | "
                f"{ratio:.2f}x | {row['max_abs_diff']:.2e} | {row['same']} |"
            )
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
