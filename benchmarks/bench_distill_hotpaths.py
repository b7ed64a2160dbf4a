"""Roofline of every distillation hot path on this CPU, with the real models and data.

For each path -- a task stage-1 step with the teacher's targets read from the cache, a
stage-2 step (cached logits), a general-distillation step with the live teacher (and with
the embedding loss alone, as "w/o Trm" trains), and the teacher-cache fill -- it reports
examples/s, the FLOPs of one call (counted by
``torch.utils.flop_counter.FlopCounterMode``), the achieved GFLOP/s and its fraction of the
rate of a 2048 x 2048 fp32 matmul timed in the same process, interleaved with the paths
(the machine's ceiling for this work: every FLOP of a step at matmul speed). Speeds on a
shared machine are only comparable as such same-process ratios, so the load average is
recorded beside them; with one thread, times are the thread's CPU time. Real assets: the
pip MiniLM encoder as teacher, the ``cpu`` student preset, MRPC training pairs and enwiki
text (``../shared/assets``), batches of 32, in train mode (dropout on) with AdamW steps,
as ``distill.training`` runs them. Usage, from the
repository's root (so that ``distill`` is this checkout's)::

    PYTHONPATH=. python benchmarks/bench_distill_hotpaths.py [--threads 2] [--rounds 5] [--record]

``--record`` appends the rows to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoTokenizer

from augment.mlm.loading import minilm_encoder_path
from distill.corpus import pack_corpus
from distill.distiller import INTERMEDIATE_OBJECTIVES, IntermediateDistiller, model_inputs
from distill.dropout import use_bits_dropout
from distill.glue import GlueDataset, LengthBucketSampler, collator, get_task, read_tsv
from distill.losses import prediction_loss
from distill.mapping import layer_mapping
from distill.models import load_teacher, new_student
from distill.teacher_cache import TeacherCache

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO.parent / "shared" / "assets"
RESULTS = Path(__file__).with_name("results.md")
MATMUL_SIZE = 2048
BATCH = 32
HEADER = (
    "| date (UTC) | commit | machine | threads | load avg | path | examples/s | "
    "GFLOP/step | GFLOP/s | matmul GFLOP/s | of matmul | clock |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def clock() -> Callable[[], float]:
    """One thread: its CPU time, which other processes on the cores barely move; several:
    wall time (CPU time would count the worker threads' spinning)."""
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times, now = [], clock()
    for _ in range(repeats):
        start = now()
        function()
        times.append(now() - start)
    return statistics.median(times)


def matmul() -> Callable[[], object]:
    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    return lambda: a @ b


def flops(function: Callable[[], object]) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return counter.get_total_flops()


def first_batch(features: list[dict], tokenizer) -> dict[str, torch.Tensor]:
    """The first batch of the training sampler (similar lengths, as training sees them)."""
    lengths = [len(f["input_ids"]) for f in features]
    indices = next(iter(LengthBucketSampler(lengths, BATCH, seed=0)))
    return collator(tokenizer)([features[i] for i in indices])


class HotPaths:
    """The models, batches and one closure per hot path."""

    def __init__(self, cache_root: Path):
        teacher_path = minilm_encoder_path()
        self.tokenizer = AutoTokenizer.from_pretrained(teacher_path)
        self.teacher = load_teacher(teacher_path, with_head=False)
        mrpc = get_task("mrpc")
        examples = read_tsv(mrpc, ASSETS / "glue" / "MRPC" / "train.tsv")
        self.mrpc = first_batch(GlueDataset(examples, self.tokenizer, 128).features, self.tokenizer)
        corpus = pack_corpus(ASSETS / "corpus" / "enwiki-50MB.txt", self.tokenizer, 128, 4000)
        self.enwiki = first_batch(corpus, self.tokenizer)
        self.cache_root = cache_root
        self.stage1 = self._distiller()
        self.general = self._distiller()
        self.embeddings_only = self._distiller(objectives={"embd"})
        self.classifier = new_student("cpu", self.teacher.config, with_head=True, num_labels=2)
        self.classifier.train()
        use_bits_dropout(self.classifier)  # as distill.training trains it
        self.classifier_optimizer = torch.optim.AdamW(self.classifier.parameters(), fused=True)
        with torch.no_grad():
            self.logits = torch.randn(BATCH, 2)  # what a cache of teacher logits returns
        self.cache = TeacherCache(cache_root / "filled", {"bench": "stage1"})
        self.cache.targets(self.mrpc, self._compute(self.stage1[0]))
        self.fills = 0

    def _distiller(
        self, bits_dropout: bool = True, objectives: Collection[str] = INTERMEDIATE_OBJECTIVES
    ) -> tuple[IntermediateDistiller, torch.optim.Optimizer]:
        """A student to distil on ``objectives``, with ``distill.training``'s dropout
        modules unless ``bits_dropout`` is off (``nn.Dropout``, for A/B timings)."""
        student = new_student("cpu", self.teacher.config, with_head=False)
        mapping = layer_mapping("uniform", 3, self.teacher.config.num_hidden_layers)
        distiller = IntermediateDistiller(student, self.teacher, mapping, objectives).train()
        if bits_dropout:
            use_bits_dropout(distiller)
        return distiller, torch.optim.AdamW(distiller.parameters(), fused=True)

    def _compute(self, distiller: IntermediateDistiller):
        return lambda batch: distiller.teacher_targets(self.teacher, batch)

    @staticmethod
    def _update(loss: torch.Tensor, module: torch.nn.Module, optimizer) -> None:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()

    def stage1_step(self, pair: tuple | None = None) -> None:
        """One step of ``pair`` = (distiller, optimizer), by default :attr:`stage1`."""
        distiller, optimizer = pair or self.stage1
        targets = self.cache.targets(self.mrpc, self._compute(distiller))
        self._update(distiller(self.mrpc, *targets)["loss"], distiller, optimizer)

    def stage2_step(self) -> None:
        logits = self.classifier(**model_inputs(self.mrpc)).logits
        loss = prediction_loss(logits, self.logits)
        self._update(loss, self.classifier, self.classifier_optimizer)

    def general_step(self, pair: tuple | None = None) -> None:
        """One step of ``pair`` = (distiller, optimizer), by default :attr:`general`."""
        distiller, optimizer = pair or self.general
        targets = distiller.teacher_targets(self.teacher, self.enwiki)
        self._update(distiller(self.enwiki, *targets)["loss"], distiller, optimizer)

    def cache_fill(self) -> None:
        self.fills += 1
        cache = TeacherCache(self.cache_root / f"fill{self.fills}", {"bench": self.fills})
        cache.targets(self.mrpc, self._compute(self.stage1[0]))

    def paths(self) -> dict[str, tuple[Callable[[], None], dict]]:
        return {
            "stage 1, cached teacher (MRPC)": (self.stage1_step, self.mrpc),
            "stage 2, cached logits (MRPC)": (self.stage2_step, self.mrpc),
            "general, live teacher (enwiki)": (self.general_step, self.enwiki),
            "general, embedding loss only (w/o Trm, enwiki)": (
                lambda: self.general_step(self.embeddings_only),
                self.enwiki,
            ),
            "teacher-cache fill (MRPC)": (self.cache_fill, self.mrpc),
        }


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm")


def matmul_flops(name: str, shapes: list[list[int]]) -> int:
    first, second = (shapes[1], shapes[2]) if name == "aten::addmm" else (shapes[0], shapes[1])
    return 2 * math.prod(first) * second[-1]


def replayed_matmul_rate(function: Callable[[], object]) -> float:
    """GFLOP/s of the path's own matrix products replayed alone at their shapes (thread CPU
    time with one thread): the rate the path would reach if every other op were free."""
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True
    ) as profile:
        function()
    calls = Counter(
        (event.name, tuple(tuple(shape) for shape in event.input_shapes))
        for event in profile.events()
        if event.name in MATMUL_OPS
    )
    operations = {"aten::mm": torch.mm, "aten::addmm": torch.addmm, "aten::bmm": torch.bmm}
    work = seconds = 0.0
    for (name, shapes), count in calls.items():
        operands = [torch.randn(shape) for shape in shapes if shape][:3]
        product = operations[name]
        seconds += count * median_seconds(lambda f=product, x=operands: f(*x), 5)
        work += count * matmul_flops(name, [list(shape) for shape in shapes])
    return work / seconds / 1e9


def breakdown(name: str, function: Callable[[], object], work: int, repeats: int) -> list[str]:
    """Where a path's time goes (``torch.profiler``, self CPU time per op): the matmul ops'
    share and rate, and the other ops that cost most. Shows how far the matmul ceiling
    is reachable: the non-matmul time is a floor no matmul speed removes."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for _ in range(repeats):
            function()
    ops = sorted(profile.key_averages(), key=lambda op: op.self_cpu_time_total, reverse=True)
    total = sum(op.self_cpu_time_total for op in ops)
    matmul = sum(op.self_cpu_time_total for op in ops if op.key in MATMUL_OPS)
    rate = work * repeats / (matmul / 1e6) / 1e9
    lines = [
        f"{name}: matmul ops {matmul / total:.0%} of self CPU time at {rate:.1f} GFLOP/s "
        f"(profiler, wall time); the same products replayed alone: "
        f"{replayed_matmul_rate(function):.1f} GFLOP/s; the rest, largest first:"
    ]
    others = [op for op in ops if op.key not in MATMUL_OPS][:8]
    lines += [f"    {op.key:<40} {op.self_cpu_time_total / total:6.1%}" for op in others]
    return lines


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        # the rows this and earlier runs appended to results.md do not make the code dirty
        unrecorded = ["git", "diff", "--quiet", "HEAD", "--", ".", f":!{RESULTS.relative_to(REPO)}"]
        dirty = subprocess.run(unrecorded, cwd=REPO).returncode != 0
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}"


def check_checkout() -> None:
    """Refuse to time an installed copy of ``distill`` other than this checkout's."""
    import distill

    if Path(distill.__file__).resolve().parents[1] != REPO:
        raise SystemExit(f"distill imported from {distill.__file__}; run with PYTHONPATH={REPO}")


def main() -> None:
    check_checkout()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--repeats", type=int, default=3, help="calls per path and round")
    parser.add_argument("--record", action="store_true", help=f"append rows to {RESULTS.name}")
    parser.add_argument(
        "--breakdown", action="store_true", help="also profile where each path's time goes"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as cache_root:
        hot = HotPaths(Path(cache_root))
        paths = hot.paths()
        work = {name: flops(function) for name, (function, _) in paths.items()}
        ceiling = matmul()
        for function, _ in paths.values():
            function()  # warm-up: allocator, kernel selection, page cache
        seconds: dict[str, list[float]] = {name: [] for name in paths}
        matmul_seconds = []
        for _ in range(args.rounds):  # interleaved, so a load change hits all alike
            matmul_seconds.append(median_seconds(ceiling, args.repeats))
            for name, (function, _) in paths.items():
                seconds[name].append(median_seconds(function, args.repeats))
        notes = []
        if args.breakdown:
            for name, (function, _) in paths.items():
                notes += breakdown(name, function, work[name], args.repeats)
    load = f"{load_before:.2f}-{os.getloadavg()[0]:.2f}"
    matmul_rate = 2 * MATMUL_SIZE**3 / statistics.median(matmul_seconds) / 1e9
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = []
    for name, (_, batch) in paths.items():
        step = statistics.median(seconds[name])
        rate = work[name] / step / 1e9
        rows.append(
            f"| {stamp} | {commit()} | {machine()} | {torch.get_num_threads()} | {load} | "
            f"{name}, {tuple(batch['input_ids'].shape)} | {BATCH / step:.1f} | "
            f"{work[name] / 1e9:.1f} | {rate:.1f} | {matmul_rate:.1f} | "
            f"{rate / matmul_rate:.0%} | {clock().__name__} |"
        )
    print(HEADER + "\n".join(rows))
    print("\n".join(notes))
    if args.record:
        if not RESULTS.is_file():
            RESULTS.write_text(
                "# Distillation hot paths: roofline on CPU\n\n"
                "Written by `benchmarks/bench_distill_hotpaths.py --record` and "
                "`benchmarks/ab_distill.py --record` (see their docstrings). `of matmul` = "
                "achieved GFLOP/s over the same-process rate of a "
                f"{MATMUL_SIZE} x {MATMUL_SIZE} fp32 matmul; load avg = 1-minute load average "
                "before-after.\n"
            )
        command = " ".join(["python benchmarks/bench_distill_hotpaths.py", *sys.argv[1:]])
        block = f"\n`{command}`:\n\n" + HEADER + "\n".join(rows) + "\n"
        if notes:
            block += "\n```\n" + "\n".join(notes) + "\n```\n"
        with RESULTS.open("a") as handle:
            handle.write(block)


if __name__ == "__main__":
    main()
