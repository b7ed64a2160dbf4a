"""Interleaved A/B timings, in one process, of candidate speed-ups for the distillation hot paths.

Each comparison times the code before a change (A, kept here) against the package's code
(B) -- or, for a candidate not adopted, the package (A) against the candidate (B) -- on
tensors of a real batch's shape (MRPC, batch 32, 12 heads, ``--length`` pieces; MiniLM
teacher widths), alternating single calls of A and B so that a change of load hits both
alike. The ratio is the median over adjacent pairs; times are medians per call, in thread
CPU time when one thread runs (other processes on the cores then barely move it), else
wall time. A change enters the package only if it is faster here and computes the same
values (or, for random masks, the same distribution) in a test
(``tests/test_distill_losses.py``, ``tests/test_distill_teacher_cache.py``,
``tests/test_distill_dropout.py``). ``--steps`` instead times whole training steps with the
real assets (``bench_distill_hotpaths.HotPaths``), before and after a change. Usage, from
the repository's root (so that ``distill`` is this checkout's)::

    PYTHONPATH=. python benchmarks/ab_distill.py [--threads 1] [--pairs 60] [--steps] [--record]

``--record`` appends the rows to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from bench_distill_hotpaths import HotPaths, check_checkout, commit, machine
from safetensors.torch import load_file

from distill import dropout as bits_dropout
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


@contextmanager
def library_dropout() -> Iterator[None]:
    """A (before): the score attention's probability dropout back on ``F.dropout``."""
    saved = bits_dropout.dropout
    bits_dropout.dropout = F.dropout
    try:
        yield
    finally:
        bits_dropout.dropout = saved


def dropout_pair(shape: tuple[int, ...]) -> Pair:
    """``F.dropout`` (A, before) against ``distill.dropout.dropout`` (B), p 0.1, forward +
    backward on a leaf of ``shape``."""
    leaf = torch.randn(shape, requires_grad=True)
    grad = torch.randn(shape)
    return (
        lambda: F.dropout(leaf, 0.1, True).backward(grad),
        lambda: bits_dropout.dropout(leaf, 0.1, True).backward(grad),
    )


def step_comparisons(root: Path) -> dict[str, Pair]:
    """Whole AdamW steps of ``bench_distill_hotpaths``' real models and batches: the student
    with ``nn.Dropout`` and ``F.dropout`` (A) against the one ``distill.training`` trains (B)."""
    hot = HotPaths(root)
    before, after = hot._distiller(bits_dropout=False), hot._distiller()
    general_before, general_after = hot._distiller(bits_dropout=False), hot._distiller()

    def step(run: Callable[[tuple], None], pair: tuple, patched: bool) -> Callable[[], None]:
        def call() -> None:
            if patched:
                with library_dropout():
                    run(pair)
            else:
                run(pair)

        return call

    return {
        "stage-1 step, cached teacher, MRPC (32 x 37): 32-bit threshold dropout masks": (
            step(hot.stage1_step, before, True),
            step(hot.stage1_step, after, False),
        ),
        "general step, live teacher, enwiki (32 x 117): 32-bit threshold dropout masks": (
            step(hot.general_step, general_before, True),
            step(hot.general_step, general_after, False),
        ),
    }


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
        "attention-probability dropout p 0.1, forward + backward: 32-bit threshold mask": (
            dropout_pair((32, 12, length, length))
        ),
        "hidden dropout p 0.1 (cpu student), forward + backward: 32-bit threshold mask": (
            dropout_pair((32, length, 192))
        ),
    }


def main() -> None:
    check_checkout()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=60, help="A/B pairs of calls per change")
    parser.add_argument("--length", type=int, default=50, help="MRPC's batches: 30-100 pieces")
    parser.add_argument("--record", action="store_true")
    parser.add_argument(
        "--steps",
        action="store_true",
        help="whole training steps with the real assets instead of single operations",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as root:
        pairs = step_comparisons(Path(root)) if args.steps else comparisons(args.length, Path(root))
        for name, pair in pairs.items():
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
    shape = "" if args.steps else f", length {args.length}"
    lines = [
        f"| {stamp} | {commit()} | {torch.get_num_threads()} | {load} | "
        f"{name}{shape} | {a:.1f} ms | {b:.1f} ms | {ratio:.2f}x |"
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
