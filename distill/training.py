"""One training loop for every stage, through Hugging Face Accelerate.

The same command runs on CPU, one GPU or several (``accelerate launch``). ``batch_size``
is the *global* batch: Accelerate splits each batch across processes
(``split_batches=True``), so a 2-process run sees exactly the examples of a 1-process run.

Resuming: ``output_dir/checkpoint`` holds Accelerate's state (model, projections,
optimizer, scheduler, RNG states) plus ``progress.json`` (epoch, batches done, step).
Because the batch order is a pure function of ``(seed, epoch)``, skipping the batches
already done puts a resumed run back on the same loss curve. Checkpoints and model saves
are written aside and renamed into place (``distill.checkpoints``); a damaged checkpoint
is reported and the previous one used.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.utils import set_seed
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
from transformers import get_constant_schedule, get_linear_schedule_with_warmup

from distill import checkpoints
from distill.dropout import use_bits_dropout
from distill.glue import LengthBucketSampler

StepFn = Callable[[nn.Module, dict[str, torch.Tensor]], dict[str, torch.Tensor]]
EvalFn = Callable[[nn.Module], dict[str, float]]
SaveFn = Callable[[nn.Module, Path], None]


# Learning-rate schedules: "linear" warm-up then linear decay to zero (the released code's
# "warmup_linear", used for stage 2 and general distillation); "constant" (its "none",
# used for task stage 1).
LR_SCHEDULES = ("linear", "constant")
# Gradient clipping at ``max_grad_norm``: "global" clips the norm of all gradients taken
# together (torch's clip_grad_norm_); "per_tensor" clips each parameter's gradient on its
# own, as the released BertAdam does inside its update loop.
CLIPPING = ("global", "per_tensor")
# Parameters without weight decay, matched as substrings of their names (released code).
NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")


@dataclass(frozen=True)
class LoopOptions:
    """How every stage of one command trains; the defaults are the paper's and the released
    code's, and the command line's (``distill.cli`` reads them from here)."""

    batch_size: int = 32  # global: split across processes
    warmup: float = 0.1  # fraction of the steps, under the "linear" schedule
    weight_decay: float = 0.01
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    clipping: str = "global"
    mixed_precision: str = "no"
    seed: int = 42
    log_every: int = 10
    save_every: int = 500  # checkpoint every N steps
    stop_after: int | None = None  # stop at step N with a resumable checkpoint
    report_to: tuple[str, ...] = ()  # Accelerate trackers besides log.jsonl

    def __post_init__(self) -> None:
        if self.clipping not in CLIPPING:
            raise ValueError(f"clipping {self.clipping!r} is not one of {CLIPPING}")


@dataclass(frozen=True)
class TrainConfig:
    """One stage: where it writes, how long and how fast it learns, and the loop options."""

    output_dir: Path
    epochs: float
    learning_rate: float
    loop: LoopOptions = LoopOptions()
    stage: str = "train"
    lr_schedule: str = "linear"

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} is not one of {LR_SCHEDULES}")


def make_accelerator(config: TrainConfig) -> Accelerator:
    """Stage 1 leaves the classifier unused, hence ``find_unused_parameters``.

    Several CPU processes: ``ACCELERATE_USE_CPU=1 torchrun --nproc_per_node 2 -m distill ...``
    (``accelerate launch --cpu`` starts a single process unless MPI is configured).
    """
    return Accelerator(
        gradient_accumulation_steps=config.loop.grad_accum,
        mixed_precision=config.loop.mixed_precision,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        log_with=list(config.loop.report_to) or None,
        project_dir=Path(config.output_dir) / "tracking",
    )


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups as released: weight decay on weights, none on biases and LayerNorms."""
    decay, exempt = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (exempt if any(part in name for part in NO_DECAY) else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": exempt, "weight_decay": 0.0},
    ]


def clip_gradients(accelerator: Accelerator, model: nn.Module, loop: LoopOptions) -> None:
    """Clip to ``loop.max_grad_norm`` by the rule ``loop.clipping`` names."""
    if loop.clipping == "global":
        accelerator.clip_grad_norm_(model.parameters(), loop.max_grad_norm)
        return
    accelerator.unscale_gradients()  # a no-op unless fp16 mixed precision scales the loss
    for parameter in model.parameters():
        if parameter.grad is not None:
            torch.nn.utils.clip_grad_norm_(parameter, loop.max_grad_norm)


class JsonlLog:
    """Append-only JSON-lines log of losses and metrics (main process only).

    Each record's numbers also go to Accelerate's trackers (``TrainConfig.report_to``,
    e.g. TensorBoard under ``output_dir/tracking/<stage>``), at the record's step.
    """

    def __init__(self, path: Path, accelerator: Accelerator):
        self.path, self.accelerator = path, accelerator

    def write(self, **record: object) -> None:
        if self.accelerator.is_main_process:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        if self.accelerator.trackers:
            prefix = f"{record['stage']}/" if record["stage"] == "eval" else ""
            numbers = {
                f"{prefix}{name}": value
                for name, value in record.items()
                if isinstance(value, int | float) and name != "step"
            }
            self.accelerator.log(numbers, step=record["step"])


@dataclass(frozen=True)
class Batches:
    """What a stage trains on: the examples, their lengths (batches group similar lengths)
    and the collator that pads a batch."""

    dataset: Dataset
    lengths: Sequence[int]
    collate: Callable

    @classmethod
    def of(cls, dataset: Dataset, collate: Callable) -> Batches:
        return cls(dataset, [len(example["input_ids"]) for example in dataset], collate)


@dataclass(frozen=True)
class Evaluation:
    """After each epoch: ``evaluate(unwrapped_model) -> {"<split>/<metric>": value}``, and
    with ``select = (split, metric)`` the best model so far is kept in ``OUTPUT_DIR/best``."""

    evaluate: EvalFn
    select: tuple[str, str] | None = None


def train(
    config: TrainConfig,
    model: nn.Module,
    step_fn: StepFn,
    batches: Batches,
    save_fn: SaveFn,
    evaluation: Evaluation | None = None,
    frozen: Sequence[nn.Module] = (),
) -> nn.Module | None:
    """Train ``model`` with ``step_fn(model, batch) -> {"loss": ..., other logged parts}``.

    The final model is saved to ``output_dir`` with ``save_fn`` and returned unwrapped;
    ``None`` is returned when ``config.loop.stop_after`` ended the run early. ``frozen``
    modules (the teacher) are moved to the device but neither optimised nor wrapped.
    """
    loop = config.loop
    accelerator = make_accelerator(config)
    set_seed(loop.seed)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = JsonlLog(out / "log.jsonl", accelerator)
    if loop.report_to:
        accelerator.init_trackers(config.stage)
    if accelerator.is_main_process:
        record = {**asdict(config), "processes": accelerator.num_processes}
        (out / "train_config.json").write_text(json.dumps(record, default=str, indent=2))

    sampler = LengthBucketSampler(batches.lengths, loop.batch_size, seed=loop.seed)
    # Its own generator: creating an iterator (also when a resumed run skips batches) then
    # draws its worker seed from it, not from the global RNG that dropout uses.
    loader = DataLoader(
        batches.dataset,
        batch_sampler=sampler,
        collate_fn=batches.collate,
        generator=torch.Generator().manual_seed(loop.seed),
    )
    total = max(1, math.ceil(math.ceil(len(loader) / loop.grad_accum) * config.epochs))
    optimizer, scheduler = _optimizer(config, model, accelerator, total)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    # ``from_pretrained`` returns eval mode: without this a checkpoint-loaded student (or a
    # teacher being fine-tuned) would train with dropout off.
    model.train()
    use_bits_dropout(model)  # the same Bernoulli masks at about half bernoulli_'s CPU cost
    for module in frozen:
        module.to(accelerator.device).eval()

    progress = {"epoch": 0, "batches": 0, "step": 0, "best": None, "seconds": 0.0}
    if accelerator.is_main_process:
        checkpoints.restore_folder(out / "best")
    checkpoint = checkpoints.find_resumable(accelerator, out, _warner(accelerator))
    if checkpoint is not None:
        accelerator.load_state(checkpoint)
        progress = checkpoints.read_progress(checkpoint)
        accelerator.print(f"resuming from {checkpoint} at step {progress['step']}")
    # Training time up to the checkpoint, summed over resumed processes (time lost to an
    # interruption after the last checkpoint is not counted: those steps are redone).
    clock_start = time.perf_counter() - progress.get("seconds", 0.0)

    def save_checkpoint() -> None:
        progress["seconds"] = round(time.perf_counter() - clock_start, 3)
        checkpoints.save_checkpoint(accelerator, out, progress)

    step = progress["step"]
    bar = tqdm(
        total=total, initial=step, desc=config.stage, disable=not accelerator.is_local_main_process
    )
    running: dict[str, float] = {}
    micro = 0
    while step < total:
        epoch = progress["epoch"]
        loader.set_epoch(epoch)
        sampler.set_epoch(epoch)  # Accelerate does not forward it through its process shards
        batches = (
            accelerator.skip_first_batches(loader, progress["batches"])
            if progress["batches"]
            else loader
        )
        for batch in batches:
            lr = scheduler.get_last_lr()[0]  # the rate this step uses
            with accelerator.accumulate(model):
                parts = step_fn(model, batch)
                accelerator.backward(parts["loss"])
                if accelerator.sync_gradients and loop.max_grad_norm:
                    clip_gradients(accelerator, model, loop)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            for name, value in parts.items():
                value = accelerator.reduce(value.detach().float(), "mean")
                running[name] = running.get(name, 0.0) + value.item()
            micro += 1
            progress["batches"] += 1
            if not accelerator.sync_gradients:
                continue
            step += 1
            progress["step"] = step
            bar.update(1)
            if step % loop.log_every == 0 or step == total:
                # mean over the micro-batches (and processes) since the last record
                averages = {k: v / micro for k, v in running.items()}
                log.write(
                    stage=config.stage,
                    step=step,
                    epoch=epoch,
                    lr=lr,
                    **averages,
                )
                bar.set_postfix(loss=f"{averages['loss']:.4f}")
                running, micro = {}, 0
            if step % loop.save_every == 0 or step == loop.stop_after:
                save_checkpoint()
            if step == loop.stop_after or step >= total:
                break
        else:
            progress["epoch"], progress["batches"] = epoch + 1, 0
            if evaluation is not None:
                _evaluate(accelerator, model, evaluation, progress, log, step, out, save_fn)
        if step == loop.stop_after and step < total:
            bar.close()
            _finish_trackers(accelerator)
            accelerator.print(f"stopped after step {step}; rerun the same command to resume")
            return None
    bar.close()
    if evaluation is not None and progress["batches"]:
        _evaluate(accelerator, model, evaluation, progress, log, step, out, save_fn)
    accelerator.wait_for_everyone()
    save_checkpoint()
    if accelerator.is_main_process:
        checkpoints.save_into(lambda folder: save_fn(accelerator.unwrap_model(model), folder), out)
        checkpoints.drop_fallback(out)
    accelerator.wait_for_everyone()
    _finish_trackers(accelerator)
    return accelerator.unwrap_model(model)


def _optimizer(config: TrainConfig, model: nn.Module, accelerator: Accelerator, total: int):
    """AdamW as released (no decay on biases and LayerNorms) and the stage's schedule.

    Fused AdamW: one kernel over all parameters instead of a loop of small ops; on CPU it
    makes the update of a student's 30522-row word embeddings about 6x cheaper.
    """
    optimizer = torch.optim.AdamW(
        parameter_groups(model, config.loop.weight_decay),
        lr=config.learning_rate,
        fused=accelerator.device.type in ("cpu", "cuda"),
    )
    if config.lr_schedule == "constant":
        return optimizer, get_constant_schedule(optimizer)
    warmup = int(config.loop.warmup * total)
    return optimizer, get_linear_schedule_with_warmup(optimizer, warmup, total)


def _finish_trackers(accelerator: Accelerator) -> None:
    """Close the trackers but not the process group (``end_training`` would destroy it,
    and the next stage of the same command still needs it)."""
    for tracker in accelerator.trackers:
        tracker.finish()


def _warner(accelerator: Accelerator) -> Callable[[str], None]:
    def warn(message: str) -> None:
        if accelerator.is_main_process:
            print(message, file=sys.stderr)

    return warn


def _evaluate(accelerator, model, evaluation, progress, log, step, out, save_fn) -> None:
    """Every process evaluates the full dev set (small for GLUE) so none waits idle."""
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.eval()
    metrics = evaluation.evaluate(unwrapped)
    unwrapped.train()
    log.write(stage="eval", step=step, **metrics)
    accelerator.print(json.dumps({"step": step, **metrics}))
    if evaluation.select is None:
        return
    key = "/".join(evaluation.select)
    if key not in metrics:
        raise ValueError(f"selection metric {key!r} not among {sorted(metrics)}")
    if progress["best"] is None or metrics[key] > progress["best"]:
        progress["best"] = metrics[key]
        if accelerator.is_main_process:

            def save_best(folder: Path) -> None:
                save_fn(unwrapped, folder)
                selection = {"step": step, key: metrics[key]}
                (folder / "selection.json").write_text(json.dumps(selection))

            checkpoints.save_folder(save_best, out / "best")
    accelerator.wait_for_everyone()
