"""Augmentation under ``torchrun`` / ``accelerate launch``: one job split between processes.

Process K of N augments the K-th of N equal ranges of examples (``--shard K/N``) into
``OUTPUT.rankK.part`` on its own device, with the usual progress record, so a killed run
started again with the same command resumes every process where it stopped (a finished
part is kept). When every process is done, the main process merges the parts in order with
the checked :func:`augment.runner.merge` and removes them: the output is written once and,
because every random draw is seeded by (seed, line, column), equals a one-process run with
the same seed byte for byte. The parts are files, so every process must see the output's
folder (one machine, or a shared file system).

The processes coordinate over gloo whatever their device: they exchange only a few small
objects, and one that finishes early may wait hours for the others, which a CPU process
group with a long timeout allows.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from augment.api import AugmentResult, AugmentSpec, augment
from augment.runner import check_output, merge, shard_record_path
from augment.settings import AugmentError

WAIT = timedelta(days=7)
"""How long a finished process waits for the slowest one (a resumed run can be very uneven)."""


def process_count() -> int:
    """How many processes ``torchrun`` or ``accelerate launch`` started (1 without them)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process reports for the whole launch (rank 0, or no launcher)."""
    return os.environ.get("RANK", "0") == "0"


def part_path(output: Path, rank: int) -> Path:
    """Where process ``rank`` writes its part of ``output``."""
    return output.with_name(f"{output.name}.rank{rank}.part")


def process_device(device: str, local_rank: int) -> str:
    """This process's device: ``cpu`` stays ``cpu``; ``cuda`` (any type without an index)
    becomes the process's own, ``cuda:LOCAL_RANK``, as torchrun's convention has it."""
    if device == "cpu":
        return device
    if ":" in device:
        raise AugmentError(
            f"--device {device}: under torchrun each process takes its own device; "
            "give the type only, e.g. --device cuda"
        )
    return f"{device}:{local_rank}"


def _combined(spec: AugmentSpec, results: list[AugmentResult]) -> AugmentResult:
    skipped: Counter = Counter()
    for result in results:
        skipped.update(result.skipped)
    return AugmentResult(
        output=spec.output,
        input_lines=sum(result.input_lines for result in results),
        output_lines=sum(result.output_lines for result in results),
        examples=sum(result.examples for result in results),
        augmented=sum(result.augmented for result in results),
        skipped=dict(skipped),
        seconds=max(result.seconds for result in results),
        models=results[0].models,
    )


def augment_distributed(spec: AugmentSpec) -> AugmentResult:
    """Run ``spec`` split between the launched processes; call it on every process.

    Every process returns the whole job's result, or raises the same :class:`AugmentError`
    (the first process's error), so that they all exit alike.
    """
    # Imported before the group exists: it takes ``group.WORLD`` as a default argument
    # when first imported (transformers imports it while the models load), and a group
    # held that way outlives destroy_process_group, so its gloo threads would still be
    # releasing finished work when Python shuts down, which aborts the process
    # ("terminate called without an active exception") after the output is written.
    import torch.distributed.fsdp.sharded_grad_scaler  # noqa: F401
    from accelerate import PartialState
    from accelerate.utils import gather_object

    spec.validate()
    if spec.shard != (0, 1):
        raise AugmentError("--shard splits a job without torchrun; under torchrun leave it out")
    check_output(spec.output, [spec.input])
    state = PartialState(cpu=True, timeout=WAIT)
    rank, count = state.process_index, state.num_processes
    device = process_device(spec.device, state.local_process_index)
    output = part_path(spec.output, rank)
    part = replace(spec, output=output, shard=(rank, count), device=device)
    try:
        outcome: AugmentResult | str = augment(part)
    except AugmentError as error:
        outcome = str(error)
    outcomes = gather_object([outcome])
    errors = [outcome for outcome in outcomes if isinstance(outcome, str)]
    if errors:
        raise AugmentError(errors[0])
    merged: str | None = None
    if state.is_main_process:
        parts = [part_path(spec.output, index) for index in range(count)]
        try:
            merge(spec.output, parts)
        except AugmentError as error:
            merged = str(error)
        else:
            for finished in parts:
                shard_record_path(finished).unlink()
                finished.unlink()
    merged = gather_object([merged])[0]
    if merged is not None:
        raise AugmentError(merged)
    return _combined(spec, outcomes)


def close() -> None:
    """End this process's part in the process group, if one was started (the command line
    does, as the owner of the process; :func:`augment_distributed` leaves it to callers
    that may use it again, as Accelerate's own state does)."""
    import torch.distributed

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # no process tears the group down while another uses it
        torch.distributed.destroy_process_group()
