"""Interleaved A/B timings, in one process, of candidate speed-ups for the distillation hot paths.

Each comparison times the code before a change (A, kept here) against the package's code
(B) -- or, for a candidate not adopted, the package (A) against the candidate (B) -- on
tensors of a real batch's shape (MRPC, batch 32, 12 heads, ``--length`` pieces; MiniLM
teacher widths), alternating single calls of A and B so that a change of load hits both
alike. The ratio is the median over adjacent pairs; times are medians per call, in thread
CPU time when one thread runs (other processes on the cores then barely move it), else
wall time. A change enters the package only if it is faster here and computes the same
values (or, for random masks, the same distribution) in a test
(``tests/test_distill_losses.py``, ``tests/test_distill_teacher_cache.py``). Usage, from
the repository's root (so that ``distill`` is this checkout's)::

    PYTHONPATH=. python benchmarks/ab_distill.py [--threads 1] [--pairs 60] [--record]

``--record`` appends the rows to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from bench_distill_hotpaths import check_checkout, commit, machine
from safetensors.torch import load_file

from distill.losses import attention_loss, hidden_loss
from distill.teacher_cache import TeacherCache

RESULTS = Path(__file__).with_name("results.md")
Pair = tuple[Callable[[], object], Callable[[], object]]


def expanded_mask_mse(student, teacher, mask):
    """A (before): the masked MSE with the mask expanded to the full shape."""
    mask = mask.to(student.dtype).expand_as(student)
    return ((student - teacher) ** 2 * mask).sum() / mask.sum().clamp(min=1)


def padded_and_stacked(cache: TeacherCache, indices: list[int], length: int) -> None:
    """A (before): the cache read with ``load_file``, then widen, pad and stack."""
    examples = [load_file(cache._path(i)) for i in indices]
    layers = sum(key.startswith("hidden.") for key in examples[0])

    def stacked(name, pad):
        return torch.stack([F.pad(e[name].float(), pad(e[name])) for e in examples])

    for k in range(layers):
        stacked(f"hidden.{k}", lambda t: (0, 0, 0, length - t.shape[0]))
    for k in range(layers - 1):
        stacked(f"scores.{k}", lambda t: (0, length - t.shape[-1], 0, length - t.shape[-1]))


def uniform_dropout(probs: torch.Tensor, p: float) -> torch.Tensor:
    """B: the dropout mask from a uniform draw (``rand >= p``), the same Bernoulli(1 - p)
    distribution as ``bernoulli_`` up to float resolution."""
    return torch.where(torch.rand_like(probs) >= p, probs * (1 / (1 - p)), 0.0)


def filled_cache(root: Path, mask: torch.Tensor) -> TeacherCache:
    """32 examples of the MiniLM teacher's shapes (uniform mapping to 3 student layers)."""
    generator = torch.Generator().manual_seed(1)
    batch, length = mask.shape
    hidden = [torch.randn(batch, length, 384, generator=generator) for _ in range(4)]
    scores = [torch.randn(batch, 12, length, length, generator=generator) for _ in range(3)]
    cache = TeacherCache(root, {"bench": "ab"})
    cache._store(list(range(batch)), mask, hidden, scores)
    return cache


def comparisons(length: int, root: Path) -> dict[str, Pair]:
    generator = torch.Generator().manual_seed(0)
    mask = torch.ones(32, length, dtype=torch.long)
    mask[::3, length - length // 4 :] = 0  # a third of the rows padded by a quarter
    scores = torch.randn(32, 12, length, length, generator=generator, requires_grad=True)
    teacher_scores = torch.randn(32, 12, length, length, generator=generator)
    hidden = torch.randn(32, length, 384, generator=generator, requires_grad=True)
    teacher_hidden = torch.randn(32, length, 384, generator=generator)

    def attention_before() -> None:
        valid = mask.bool()
        pairs = valid[:, None, :, None] & valid[:, None, None, :]
        expanded_mask_mse(scores, teacher_scores, pairs).backward()

    def hidden_before() -> None:
        expanded_mask_mse(hidden, teacher_hidden, mask.bool()[:, :, None]).backward()

    cache = filled_cache(root, mask)
    indices = list(range(32))
    return {
        "teacher-cache read of a batch (page cache warm): one pass into zeroed tensors": (
            lambda: padded_and_stacked(cache, indices, length),
            lambda: cache._load(indices, mask),
        ),
        "attention MSE, forward + backward, per layer: broadcast mask, fused sum": (
            attention_before,
            lambda: attention_loss(scores, teacher_scores, mask).backward(),
        ),
        "hidden MSE, forward + backward, per layer: broadcast mask, fused sum": (
            hidden_before,
            lambda: hidden_loss(hidden, teacher_hidden, mask).backward(),
        ),
        "attention-probability dropout p 0.1 (candidate, not adopted): uniform-draw mask": (
            lambda: F.dropout(teacher_scores, 0.1, True),
            lambda: uniform_dropout(teacher_scores, 0.1),
        ),
    }


def main() -> None:
    check_checkout()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=60, help="A/B pairs of calls per change")
    parser.add_argument("--length", type=int, default=50, help="MRPC's batches: 30-100 pieces")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for name, pair in comparisons(args.length, Path(root)).items():
            times: tuple[list[float], list[float]] = ([], [])
            for function in pair:
                function()  # warm-up
            for call in range(2 * args.pairs):  # A B B A A B ...: neither side always first
                side = (call + call // 2) % 2
                start = clock()
                pair[side]()
                times[side].append(clock() - start)
            a, b = (statistics.median(t) * 1e3 for t in times)
            ratio = statistics.median(x / y for x, y in zip(*times, strict=True))
            rows.append((name, a, b, ratio))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load = f"{load_before:.2f}-{os.getloadavg()[0]:.2f}"
    lines = [
        f"| {stamp} | {commit()} | {torch.get_num_threads()} | {load} | "
        f"{name}, length {args.length} | {a:.1f} ms | {b:.1f} ms | {ratio:.2f}x |"
        for name, a, b, ratio in rows
    ]
    header = (
        "| date (UTC) | commit | threads | load avg | change | A | B "
        "| A / B (median of pairs) |\n|---|---|---|---|---|---|---|---|\n"
    )
    print(f"{machine()}\n" + header + "\n".join(lines))
    if args.record:
        with RESULTS.open("a") as handle:
            handle.write(
                f"\n`python benchmarks/ab_distill.py {' '.join(sys.argv[1:])}` on {machine()}:"
                "\n\n" + header
            )
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
