"""Two cores for task distillation: one process with two threads, or two with one each?

Both layouts run the same stage-1 step (``bench_distill_hotpaths.HotPaths.stage1_step``:
cached MiniLM teacher targets, the ``cpu`` student, a real MRPC batch of 32, dropout on,
AdamW) in worker processes set up once; the parent then alternates rounds -- one worker
with ``torch.set_num_threads(2)``, then two one-thread workers started together -- and
times each round's wall clock until every worker of it has run ``--steps`` steps. The
figure is the examples/s of the whole machine (both workers together in the second
layout), the question being which layout finishes a grid of runs sooner. Wall time, so
other jobs on the cores slow both layouts; the rounds alternate so that they share the
load alike, and the load average is recorded. Usage, from the repository's root::

    PYTHONPATH=. python benchmarks/bench_threads.py [--rounds 4] [--steps 20] [--record]

``--record`` appends the rows to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_distill_hotpaths import BATCH, RESULTS, check_checkout, commit, machine


def worker(threads: int) -> None:
    """Set up, say ``ready``, then per ``go N`` line run N steps and print their seconds."""
    import torch
    from bench_distill_hotpaths import HotPaths

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as root:
        hot = HotPaths(Path(root))
        hot.stage1_step()  # warm-up
        print("ready", flush=True)
        for line in sys.stdin:
            steps = int(line.split()[1])
            start = time.perf_counter()
            for _ in range(steps):
                hot.stage1_step()
            print(time.perf_counter() - start, flush=True)


def spawn(threads: int) -> subprocess.Popen:
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(threads)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    while process.stdout.readline().strip() != "ready":
        if process.poll() is not None:
            raise SystemExit(f"worker with {threads} thread(s) failed to start")
    return process


def round_seconds(workers: list[subprocess.Popen], steps: int) -> float:
    """Wall seconds until every worker has run ``steps`` steps, all started together."""
    start = time.perf_counter()
    for process in workers:
        process.stdin.write(f"go {steps}\n")
        process.stdin.flush()
    for process in workers:
        process.stdout.readline()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20, help="steps per worker and round")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    check_checkout()
    layouts = {"1 process x 2 threads": [spawn(2)], "2 processes x 1 thread": [spawn(1), spawn(1)]}
    load_before = os.getloadavg()[0]
    rates: dict[str, list[float]] = {name: [] for name in layouts}
    for _ in range(args.rounds):
        for name, workers in layouts.items():
            seconds = round_seconds(workers, args.steps)
            rates[name].append(len(workers) * args.steps * BATCH / seconds)
    for workers in layouts.values():
        for process in workers:
            process.stdin.close()
            process.wait()
    load = f"{load_before:.2f}-{os.getloadavg()[0]:.2f}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    single, double = (statistics.median(r) for r in rates.values())
    header = (
        "| date (UTC) | commit | load avg | layout | stage-1 examples/s, all workers "
        "(median of rounds) | rounds |\n|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {stamp} | {commit()} | {load} | {name} | {statistics.median(r):.1f} | "
        f"{', '.join(f'{x:.1f}' for x in r)} |"
        for name, r in rates.items()
    ]
    summary = f"two one-thread processes / one two-thread process: {double / single:.2f}x"
    print(f"{machine()}\n{header}" + "\n".join(lines) + f"\n\n{summary}")
    if args.record:
        with RESULTS.open("a") as handle:
            handle.write(
                f"\n`python benchmarks/bench_threads.py {' '.join(sys.argv[1:])}` on "
                f"{machine()}, {args.steps} steps per worker and round:\n\n{header}"
                + "\n".join(lines)
                + f"\n\n{summary}.\n"
            )


if __name__ == "__main__":
    main()
