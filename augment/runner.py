"""The augmentation job: stream a file through Algorithm 1 in chunks, resumably.

Why chunks: the masked LM is fast only when many masked copies share a forward pass,
and memory must stay bounded whatever the file size. A chunk is ``chunk_size``
consecutive data lines; it is planned in one batched pass, sampled, written, flushed,
and recorded in a progress file. An interrupted run resumes after the last recorded
chunk, and because every random draw is seeded by (seed, line, column), the resumed
output is byte-identical to an uninterrupted one. Shards are ranges of whole chunks,
so shards merged in order equal the unsharded output too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from augment.augmenter import Augmenter, AugmentSettings, TextTooLong
from augment.formats import FORMATS, BadInput, Format, Record, read_lines

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One augmentation job: what to read, how, and where to write."""

    input: Path
    output: Path
    format: str
    columns: tuple[str | int, ...]
    header: bool
    settings: AugmentSettings = field(default_factory=AugmentSettings)
    seed: int = 42
    chunk_size: int = 1000
    skip_bad_rows: bool = False
    shard: tuple[int, int] = (0, 1)

    @property
    def partial(self) -> Path:
        return self.output.with_name(self.output.name + ".partial")

    @property
    def progress(self) -> Path:
        return self.output.with_name(self.output.name + ".progress.json")


@dataclass
class Summary:
    """What a job did, for the log and for tests."""

    records: int = 0
    augmented: int = 0
    skipped: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _fingerprint(job: Job, model_description: str) -> str:
    stat = job.input.stat()
    described = asdict(job) | {"model": model_description, "size": stat.st_size}
    described |= {"mtime_ns": stat.st_mtime_ns}
    return hashlib.sha256(json.dumps(described, default=str, sort_keys=True).encode()).hexdigest()


def _make_format(job: Job) -> Format:
    return FORMATS[job.format](job.input, job.columns, job.header)


def scan(job: Job) -> int:
    """Validate every line before any model is loaded; return the number of data lines.

    With ``skip_bad_rows`` off, the first bad row raises :class:`BadInput` here, so a
    malformed file fails in seconds rather than hours into a run.
    """
    if not job.input.is_file():
        raise BadInput(f"{job.input}: no such input file")
    fmt = _make_format(job)
    lines = read_lines(job.input)
    count = 0
    for number, line in lines:
        if number == 1 and fmt.header_line(line) is not None:
            continue
        count += 1
        try:
            fmt.parse(number, line)
        except BadInput:
            if not job.skip_bad_rows:
                raise
    if count == 0:
        raise BadInput(f"{job.input}: no data lines")
    return count


def shard_range(lines: int, chunk_size: int, shard: tuple[int, int]) -> tuple[int, int]:
    """The data-line range [start, end) of shard ``index`` of ``count``: whole chunks only."""
    index, count = shard
    chunks = -(-lines // chunk_size)
    first, last = chunks * index // count, chunks * (index + 1) // count
    return first * chunk_size, min(last * chunk_size, lines)


class _Writer:
    """Appends chunks to the ``.partial`` file and records progress after each one."""

    def __init__(self, job: Job, fingerprint: str) -> None:
        self.job = job
        self.fingerprint = fingerprint
        state = self._load_state()
        self.done = state["done"] if state else 0
        self.summary = (
            Summary(state["records"], state["augmented"], Counter(state["skipped"]))
            if state
            else Summary()
        )
        self.file = open(job.partial, "r+b" if state else "wb")  # noqa: SIM115 - closed in finish
        if state:
            self.file.truncate(state["bytes"])
            self.file.seek(state["bytes"])
            logger.info("resuming %s after %d data lines", job.output, self.done)

    def _load_state(self) -> dict | None:
        if not (self.job.progress.is_file() and self.job.partial.is_file()):
            return None
        state = json.loads(self.job.progress.read_text(encoding="utf-8"))
        if state["fingerprint"] != self.fingerprint:
            logger.warning("%s: made by another configuration; starting over", self.job.progress)
            return None
        return state

    def append(self, text: str, done: int) -> None:
        self.file.write(text.encode("utf-8"))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.done = done
        state = {
            "fingerprint": self.fingerprint,
            "done": done,
            "bytes": self.file.tell(),
            "records": self.summary.records,
            "augmented": self.summary.augmented,
            "skipped": dict(self.summary.skipped),
        }
        temporary = self.job.progress.with_suffix(".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        temporary.replace(self.job.progress)

    def finish(self) -> None:
        self.file.close()
        self.job.partial.replace(self.job.output)
        self.job.progress.unlink()

    def abandon(self) -> None:
        self.file.close()
        self.job.partial.unlink(missing_ok=True)
        self.job.progress.unlink(missing_ok=True)


def _augment_chunk(
    items: list[Record | str], fmt: Format, augmenter: Augmenter, job: Job, summary: Summary
) -> list[str]:
    """Output lines for a chunk: each record, then its augmentations column by column;
    a pass-through line (a plain string) is copied in its place."""
    texts = [text for item in items if isinstance(item, Record) for text in item.texts]
    plans = iter(augmenter.plan(texts))
    lines = []
    for record in items:
        if isinstance(record, str):
            lines.append(record)
            continue
        record_plans = [next(plans) for _ in record.texts]
        too_long = [
            (column, plan)
            for column, plan in zip(job.columns, record_plans, strict=True)
            if isinstance(plan, TextTooLong)
        ]
        if too_long:
            column, problem = too_long[0]
            error = fmt.error(record.line_number, f"text column {column!r} has {problem}")
            if not job.skip_bad_rows:
                raise error
            logger.warning("skipped %s", error)
            summary.skipped["too long"] += 1
            continue
        summary.records += 1
        lines.append(record.line)
        for position, plan in enumerate(record_plans):
            rng = random.Random(f"{job.seed}/{record.line_number}/{position}")
            for sentence in augmenter.sample(plan, rng):
                replaced = list(record.texts)
                replaced[position] = sentence
                lines.append(fmt.write(record, replaced))
                summary.augmented += 1
    return lines


def run(job: Job, make_augmenter: Callable[[], tuple[Augmenter, str]]) -> Summary:
    """Run ``job``; ``make_augmenter`` loads the models (only after the input is validated)
    and returns the augmenter with a description of its models for the resume check."""
    started = time.time()
    lines_total = scan(job)
    start, end = shard_range(lines_total, job.chunk_size, job.shard)
    augmenter, model_description = make_augmenter()
    writer = _Writer(job, _fingerprint(job, model_description))
    fmt = _make_format(job)
    try:
        chunk: list[Record | str] = []
        output: list[str] = []
        index = 0
        resume_at = start + writer.done
        progress = tqdm(total=end - start, initial=writer.done, unit="sent", desc="augment")
        for number, line in read_lines(job.input):
            if number == 1 and (header := fmt.header_line(line)) is not None:
                if writer.done == 0 and job.shard[0] == 0:
                    output.append(header)
                continue
            if index >= end:
                break
            index += 1
            if index <= resume_at:
                continue
            try:
                record = fmt.parse(number, line)
            except BadInput as error:  # only reached with skip_bad_rows: scan raised otherwise
                logger.warning("skipped %s", error)
                writer.summary.skipped["malformed"] += 1
            else:
                chunk.append(line if record is None else record)
            if (index - start) % job.chunk_size == 0 or index == end:
                output += _augment_chunk(chunk, fmt, augmenter, job, writer.summary)
                writer.append("".join(f"{text}\n" for text in output), index - start)
                progress.update(index - start - progress.n)
                chunk, output = [], []
        progress.close()
    except BadInput:
        writer.abandon()
        raise
    writer.finish()
    summary = writer.summary
    summary.seconds = time.time() - started
    logger.info(
        "%s: %d examples kept, %d augmented sentences, skipped %s, %.1f s",
        job.output,
        summary.records,
        summary.augmented,
        dict(summary.skipped) or "none",
        summary.seconds,
    )
    return summary
