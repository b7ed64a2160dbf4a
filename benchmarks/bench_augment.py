"""Algorithm 1 speed: the official per-word loop against our batched implementation.

Both run on the same sentences with the same masked LM and GloVe vectors:

(a) reference — :class:`augment.reference.ReferenceAugmenter`, the official script's
    loop: one masked-LM forward per word, batch size 1, autograd on, logits at every
    position, a full sort of GloVe similarities per multi-piece word;
(b) batched — :class:`augment.augmenter.Augmenter`: masked copies of all sentences
    deduplicated, bucketed by length, batched, under inference mode, logits at the
    [MASK] only, GloVe neighbours batched and cached.

Sampling (N_a draws per sentence) is the same code in both and is timed in both. The
script prints sentences/s for each, their ratio, and whether both produced the same
candidate sets. ``--roofline`` also counts the floating-point operations of both paths
(``torch.utils.flop_counter``) and times a large fp32 matmul, to show how far the batched
path is from this CPU's arithmetic limit and what speed-up that limit allows at all.
``--end-to-end 200 2000`` instead times whole ``python -m augment`` runs (a fresh process:
imports, model loading, reading, planning, sampling, writing) on the first N SST-2
sentences, beside the batched loop alone on the same sentences with the models loaded,
with the command line's default settings, and records the load average.

Usage:

    python benchmarks/bench_augment.py --sentences 500 --mlm ../shared/assets/models/minilm-wiki-mlm
    python benchmarks/bench_augment.py --end-to-end 200 2000 --mlm embedded
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from augment.augmenter import Augmenter, AugmentSettings
from augment.glove import GloveNeighbours
from augment.masked_lm import MaskedLMCandidates
from augment.mlm import load_masked_lm
from augment.reference import ReferenceAugmenter

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "assets" / "glue" / "SST-2" / "train.tsv"


def read_sentences(path: Path, count: int) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()[1 : count + 1]
    return [line.split("\t")[0] for line in lines]


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """fp32 GFLOP/s of a large square matmul: about the most this CPU's cores deliver."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def counted_gflop(work) -> float:
    """GFLOP of the matmuls ``work()`` runs (attention, linear layers, vocabulary head)."""
    with FlopCounterMode(display=False) as counter:
        work()
    return counter.get_total_flops() / 1e9


def roofline(figures: dict, augmenter, reference, sentences: list[str]) -> dict:
    """FLOPs of both paths, the machine's matmul rate, and the speed-up it allows."""
    reference_gflop = counted_gflop(lambda: [reference.candidates(s) for s in sentences])
    batched_gflop = counted_gflop(lambda: augmenter.plan(sentences))
    peak = matmul_gflops()
    reference_s = figures["sentences"] / figures["reference_sentences_per_s"]
    batched_s = figures["sentences"] / figures["batched_sentences_per_s"]
    return {
        "reference_gflop": round(reference_gflop, 1),
        "batched_gflop": round(batched_gflop, 1),
        "flop_ratio": round(reference_gflop / batched_gflop, 2),
        "reference_gflop_per_s": round(reference_gflop / reference_s, 1),
        "batched_gflop_per_s": round(batched_gflop / batched_s, 1),
        "matmul_peak_gflop_per_s": round(peak, 1),
        # Even if every batched FLOP ran at the matmul peak (and sampling were free):
        "speedup_ceiling_fp32": round(reference_s / (batched_gflop / peak), 1),
    }


def end_to_end(args: argparse.Namespace) -> dict:
    """Wall time of ``python -m augment`` on the first N sentences, beside the loop alone."""
    settings = AugmentSettings(n_a=args.n_a, k=args.k)
    loaded = load_masked_lm(args.mlm)
    glove = GloveNeighbours.load("default", args.k, settings.clean, args.glove_vocab)
    masked_lm = MaskedLMCandidates(
        loaded.model, loaded.tokenizer, args.k, settings.clean, args.batch_size
    )
    augmenter = Augmenter(masked_lm, glove, settings)
    augmenter.plan(read_sentences(args.input, 16))
    figures: dict = {
        "masked_lm": loaded.description,
        "candidates": "clean" if settings.clean else "faithful",
    }
    figures |= {"n_a": args.n_a, "k": args.k, "torch_threads": torch.get_num_threads()}
    figures["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    header, *rows = args.input.read_text(encoding="utf-8").splitlines()
    for count in args.end_to_end:
        with tempfile.TemporaryDirectory() as folder:
            source, target = Path(folder) / "train.tsv", Path(folder) / "out.tsv"
            source.write_text("\n".join([header, *rows[:count]]) + "\n", encoding="utf-8")
            command = [sys.executable, "-m", "augment", "--input", str(source)]
            command += ["--output", str(target), "--task", "sst-2", "--mlm", args.mlm]
            command += ["--n_a", str(args.n_a), "--k", str(args.k)]
            command += [
                "--batch-size",
                str(args.batch_size),
                "--glove-vocab",
                str(args.glove_vocab),
            ]
            started = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            process_seconds = time.perf_counter() - started
        sentences = read_sentences(args.input, count)
        started = time.perf_counter()
        for index, plan in enumerate(augmenter.plan(sentences)):
            augmenter.sample(plan, random.Random(index))
        loop_seconds = time.perf_counter() - started
        figures[f"end_to_end_{count}_sentences_per_s"] = round(count / process_seconds, 2)
        figures[f"end_to_end_{count}_seconds"] = round(process_seconds, 1)
        figures[f"loop_{count}_sentences_per_s"] = round(count / loop_seconds, 2)
        print(
            f"{count} sentences: python -m augment {process_seconds:.1f} s "
            f"({count / process_seconds:.2f} sentences/s); loop alone {loop_seconds:.1f} s "
            f"({count / loop_seconds:.2f} sentences/s)",
            flush=True,
        )
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=SST2, help="SST-2 train.tsv")
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--mlm", default="embedded")
    parser.add_argument("--n_a", type=int, default=20)
    parser.add_argument("--k", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--glove-vocab", type=int, default=100_000)
    parser.add_argument(
        "--bfloat16",
        action="store_true",
        help="also time the batched path in bfloat16 and count candidate sets that differ",
    )
    parser.add_argument(
        "--roofline",
        action="store_true",
        help="also count both paths' FLOPs and time a large matmul (the CPU's fp32 limit)",
    )
    parser.add_argument(
        "--end-to-end",
        type=int,
        nargs="+",
        metavar="N",
        help="instead time whole `python -m augment` runs on the first N sentences",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.end_to_end:
        figures = end_to_end(args)
        print(json.dumps(figures))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        return

    sentences = read_sentences(args.input, args.sentences)
    loaded = load_masked_lm(args.mlm)
    glove = GloveNeighbours.load("default", args.k, clean=False, vocab_limit=args.glove_vocab)
    # The official filtering, so that both paths compute the same candidates.
    settings = AugmentSettings(n_a=args.n_a, k=args.k, clean=False)
    augmenter = Augmenter(
        MaskedLMCandidates(loaded.model, loaded.tokenizer, args.k, False, args.batch_size),
        glove,
        settings,
    )
    reference = ReferenceAugmenter(
        loaded.model, loaded.tokenizer, glove.words, glove.unit_vectors, args.k
    )

    # Warm-up: the first forward passes pay one-off kernel selection and allocation.
    augmenter.plan(sentences[:16])
    reference.candidates(sentences[0])

    started = time.perf_counter()
    plans = augmenter.plan(sentences)
    batched_outputs = [augmenter.sample(p, random.Random(i)) for i, p in enumerate(plans)]
    batched_seconds = time.perf_counter() - started

    started = time.perf_counter()
    reference_candidates = []
    reference_outputs = []
    for index, (sentence, plan) in enumerate(zip(sentences, plans, strict=True)):
        found = reference.candidates(sentence)
        reference_candidates.append(found)
        reference_plan = type(plan)(plan.text, plan.words, found)
        reference_outputs.append(augmenter.sample(reference_plan, random.Random(index)))
    reference_seconds = time.perf_counter() - started

    words = sum(len(p.candidates) for p in plans)
    same_words = sum(
        p.candidates[i] == found[i]
        for p, found in zip(plans, reference_candidates, strict=True)
        for i in p.candidates
    )
    same_sets = sum(
        set(p.candidates[i]) == set(found[i])
        for p, found in zip(plans, reference_candidates, strict=True)
        for i in p.candidates
    )
    figures = {
        "sentences": len(sentences),
        "eligible_words": words,
        "n_a": args.n_a,
        "k": args.k,
        "masked_lm": loaded.description,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "reference_sentences_per_s": round(len(sentences) / reference_seconds, 2),
        "batched_sentences_per_s": round(len(sentences) / batched_seconds, 2),
        "speedup": round(reference_seconds / batched_seconds, 2),
        "identical_candidate_lists": f"{same_words}/{words}",
        "identical_candidate_sets": f"{same_sets}/{words}",
        "identical_outputs": sum(
            a == b for a, b in zip(batched_outputs, reference_outputs, strict=True)
        ),
    }
    if args.roofline:
        figures |= roofline(figures, augmenter, reference, sentences)
        print(
            f"GFLOP reference {figures['reference_gflop']}, batched {figures['batched_gflop']} "
            f"(ratio {figures['flop_ratio']}); GFLOP/s reference "
            f"{figures['reference_gflop_per_s']}, batched {figures['batched_gflop_per_s']}, "
            f"fp32 matmul {figures['matmul_peak_gflop_per_s']}"
        )
        print(f"  speed-up ceiling in fp32 at the matmul rate: {figures['speedup_ceiling_fp32']}x")
    if args.bfloat16:
        loaded.model.to(torch.bfloat16)
        augmenter.plan(sentences[:16])
        started = time.perf_counter()
        fast_plans = augmenter.plan(sentences)
        for index, plan in enumerate(fast_plans):
            augmenter.sample(plan, random.Random(index))
        fast_seconds = time.perf_counter() - started
        same_fast = sum(
            set(p.candidates[i]) == set(q.candidates[i])
            for p, q in zip(plans, fast_plans, strict=True)
            for i in p.candidates
        )
        figures |= {
            "bfloat16_sentences_per_s": round(len(sentences) / fast_seconds, 2),
            "bfloat16_speedup": round(reference_seconds / fast_seconds, 2),
            "bfloat16_identical_candidate_sets": f"{same_fast}/{words}",
        }
        print(f"batched, bfloat16:         {figures['bfloat16_sentences_per_s']:8.2f} sentences/s")
        print(f"  speed-up {figures['bfloat16_speedup']}x; same sets as fp32 {same_fast}/{words}")
    print(f"reference (official loop): {figures['reference_sentences_per_s']:8.2f} sentences/s")
    print(f"batched (ours):            {figures['batched_sentences_per_s']:8.2f} sentences/s")
    print(f"speed-up:                  {figures['speedup']:8.2f}x")
    print(f"same candidate sets: {same_sets}/{words} words; same lists: {same_words}/{words}")
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
