"""The augmentation job: stream a file through Algorithm 1 in chunks, resumably.

Why chunks: the masked LM is fast only when many masked copies share a forward pass,
and memory must stay bounded whatever the file size. A chunk is ``chunk_size``
consecutive data lines; it is planned in one batched pass, sampled, written, flushed,
and recorded in a progress file. An interrupted run resumes after the last recorded
chunk, and because every random draw is seeded by (seed, line, column), the resumed
output is byte-identical to an uninterrupted one. Shards are equal ranges of data
lines; a finished shard leaves a record (``OUTPUT.shard.json``) of which part of which
job it is, so that :func:`merge` can refuse an incomplete or mis-ordered set, and so that
running a finished shard's command again keeps it; the shards merged in order equal the
unsharded output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from augment.atomic import remove_stale_partials, write_text_atomically
from augment.formats import FORMATS, BadInput, Format, Record
from augment.parquet import ParquetFormat, concatenate
from augment.settings import AugmentError, AugmentSettings, TextTooLong

if TYPE_CHECKING:  # the augmenter imports torch; the runner must not, to fail fast
    from augment.augmenter import Augmenter

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

    @property
    def shard_record(self) -> Path:
        return shard_record_path(self.output)


def shard_record_path(output: Path) -> Path:
    """Where a finished shard records which part of which job it is."""
    return output.with_name(output.name + ".shard.json")


@dataclass
class Summary:
    """What a job did, for the log and for tests."""

    records: int = 0
    augmented: int = 0
    lines: int = 0
    skipped: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _fingerprint(job: Job, model_description: str, *, whole_job: bool = False) -> str:
    """A hash of the job, its models and its input file's size and time. ``whole_job``
    leaves out the output and the shard, so that every shard of one job has the same one."""
    stat = job.input.stat()
    described = asdict(job) | {"model": model_description, "size": stat.st_size}
    described |= {"mtime_ns": stat.st_mtime_ns}
    if whole_job:
        del described["output"], described["shard"]
    return hashlib.sha256(json.dumps(described, default=str, sort_keys=True).encode()).hexdigest()


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse an output that is one of ``inputs`` or that cannot be written, before any work.

    A missing folder is an error rather than created, so that a typo in a path does not
    scatter folders; the check writes and removes a probe file, which catches read-only
    folders and file systems whatever the user's privileges.
    """
    for source in inputs:
        same = output.resolve() == source.resolve()
        if same or (output.exists() and source.exists() and output.samefile(source)):
            raise AugmentError(f"--output {output} is the input file {source}; choose another path")
    folder = output.parent
    if output.is_dir():
        raise AugmentError(f"--output {output} is a folder; name a file")
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist; create it first"
        raise AugmentError(f"--output {output}: the folder {folder} {problem}")
    try:
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".probe")
    except OSError as error:
        problem = f"cannot write in {folder} ({error.strerror})"
        raise AugmentError(f"--output {output}: {problem}") from error
    os.close(descriptor)
    os.unlink(probe)


FORMAT_CLASSES = FORMATS | {"parquet": ParquetFormat}
"""Every format by name: the line formats and Parquet."""


def _make_format(job: Job) -> Format:
    return FORMAT_CLASSES[job.format](job.input, job.columns, job.header)


def scan(job: Job) -> int:
    """Validate every line before any model is loaded; return the number of data lines.

    With ``skip_bad_rows`` off, the first bad row raises :class:`BadInput` here, so a
    malformed file fails in seconds rather than hours into a run.
    """
    if not job.input.is_file():
        raise BadInput(f"{job.input}: no such input file")
    fmt = _make_format(job)
    count = 0
    for number, line in fmt.lines():
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


def shard_range(lines: int, shard: tuple[int, int]) -> tuple[int, int]:
    """The data-line range [start, end) of shard ``index`` of ``count``: equal parts, so
    3,000 lines in two shards are 1,500 and 1,500."""
    index, count = shard
    return lines * index // count, lines * (index + 1) // count


class _Writer:
    """Appends chunks to the ``.partial`` file and records progress after each one."""

    def __init__(self, job: Job, fingerprint: str, job_fingerprint: str) -> None:
        self.job = job
        self.fingerprint = fingerprint
        self.job_fingerprint = job_fingerprint
        state = self._load_state()
        self.done = state["done"] if state else 0
        self.summary = (
            Summary(
                records=state["records"],
                augmented=state["augmented"],
                skipped=Counter(state["skipped"]),
            )
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
        write_text_atomically(self.job.progress, json.dumps(state))

    def finish(self, lines: tuple[int, int], fmt: Format) -> None:
        """Move the finished output (made from the ``.partial``) into place; a shard first
        records its place."""
        self.file.close()
        finished = fmt.finished(self.job.partial)
        index, count = self.job.shard
        if count > 1:
            record = {
                "shard": index,
                "of": count,
                "job": self.job_fingerprint,
                "part": self.fingerprint,
                "format": self.job.format,
                "data_lines": list(lines),
                "bytes": finished.stat().st_size,
                "records": self.summary.records,
                "augmented": self.summary.augmented,
                "skipped": dict(self.summary.skipped),
            }
            write_text_atomically(self.job.shard_record, json.dumps(record, indent=1))
        else:
            self.job.shard_record.unlink(missing_ok=True)
            remove_stale_partials(self.job.shard_record)
        finished.replace(self.job.output)
        self.job.partial.unlink(missing_ok=True)
        self.job.progress.unlink()
        remove_stale_partials(self.job.progress)

    def abandon(self) -> None:
        self.file.close()
        self.job.partial.unlink(missing_ok=True)
        self.job.progress.unlink(missing_ok=True)
        remove_stale_partials(self.job.progress)


def _augment_chunk(
    items: list[Record | str],
    fmt: Format,
    augmenter: Augmenter,
    job: Job,
    summary: Summary,
    on_progress: Callable[[int, int], None],
) -> list[str]:
    """Output lines for a chunk: each record, then its augmentations column by column;
    a pass-through line (a plain string) is copied in its place."""
    texts = [text for item in items if isinstance(item, Record) for text in item.texts]
    plans = iter(augmenter.plan(texts, on_progress))
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


def _advance(progress: tqdm, base: int, size: int, done: int, total: int) -> None:
    """Move the bar within a chunk of ``size`` examples as its masked-LM batches finish."""
    progress.update(base + size * done // total - progress.n)


def _finished_shard(job: Job, fingerprint: str) -> Summary | None:
    """The summary of this very shard if it already finished (same job, part and bytes),
    so that a restarted run keeps the parts that were done, as it resumes the others."""
    record_path = job.shard_record
    if job.shard[1] == 1 or job.partial.exists() or not job.output.is_file():
        return None
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    if record.get("part") != fingerprint or record.get("bytes") != job.output.stat().st_size:
        return None
    skipped = Counter(record["skipped"])
    return Summary(records=record["records"], augmented=record["augmented"], skipped=skipped)


def run(job: Job, make_augmenter: Callable[[], tuple[Augmenter, str]]) -> Summary:
    """Run ``job``; ``make_augmenter`` loads the models (only after the input is validated)
    and returns the augmenter with a description of its models for the resume check."""
    started = time.time()
    check_output(job.output, [job.input])
    lines_total = scan(job)
    start, end = shard_range(lines_total, job.shard)
    augmenter, model_description = make_augmenter()
    fingerprint = _fingerprint(job, model_description)
    finished = _finished_shard(job, fingerprint)
    if finished is not None:
        logger.info("%s: this shard is already finished; kept", job.output)
        finished.lines, finished.seconds = end - start, time.time() - started
        return finished
    writer = _Writer(job, fingerprint, _fingerprint(job, model_description, whole_job=True))
    fmt = _make_format(job)
    try:
        chunk: list[Record | str] = []
        output: list[str] = []
        index = 0
        resume_at = start + writer.done
        label = "augment" if job.shard[1] == 1 else f"augment {job.shard[0]}/{job.shard[1]}"
        progress = tqdm(total=end - start, initial=writer.done, unit="example", desc=label)
        for number, line in fmt.lines():
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
                show = partial(_advance, progress, progress.n, index - start - progress.n)
                output += _augment_chunk(chunk, fmt, augmenter, job, writer.summary, show)
                writer.append("".join(f"{text}\n" for text in output), index - start)
                progress.update(index - start - progress.n)
                chunk, output = [], []
        progress.close()
    except BadInput:
        writer.abandon()
        raise
    writer.finish((start, end), fmt)
    summary = writer.summary
    summary.lines = end - start
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


def merge(output: Path, shards: list[Path]) -> int:
    """Concatenate the finished shards of one job into ``output``; return its byte count.

    Every shard must be finished, unchanged since it finished, from the same job (same
    input, settings and models), and the set complete and in order (0, 1, ..., N-1):
    otherwise nothing is written.
    """
    check_output(output, shards)
    records = []
    for shard in shards:
        if not shard.is_file() or shard.with_name(shard.name + ".partial").exists():
            raise AugmentError(f"{shard}: shard missing or unfinished")
        record_path = shard_record_path(shard)
        if not record_path.is_file():
            raise AugmentError(f"{shard}: no {record_path.name}; not a finished --shard output")
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            index, count, job_id, size = (record[k] for k in ("shard", "of", "job", "bytes"))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise AugmentError(f"{record_path}: damaged shard record ({error})") from error
        if shard.stat().st_size != size:
            raise AugmentError(f"{shard}: {shard.stat().st_size} bytes, {size} when it finished")
        records.append((index, count, job_id))
    if len({job_id for _, _, job_id in records}) > 1:
        raise AugmentError("the shards come from different jobs (input, settings or models differ)")
    count = records[0][1]
    order = [index for index, _, _ in records]
    if order != list(range(count)):
        given = " ".join(f"{index}/{count}" for index in order)
        expected = f"0/{count} to {count - 1}/{count}"
        raise AugmentError(f"merge needs shards {expected}, all and in order; got {given}")
    temporary = output.with_name(output.name + ".partial")
    if record.get("format") == "parquet":  # the same in every shard: the job id covers it
        concatenate(shards, temporary)
    else:
        with open(temporary, "wb") as merged:
            for shard in shards:
                merged.write(shard.read_bytes())
    shard_record_path(output).unlink(missing_ok=True)
    temporary.replace(output)
    return output.stat().st_size
