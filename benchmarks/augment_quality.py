"""Augmentation quality: what the substitutions are, and whether the label survives them.

For each task, a seeded sample of training examples is augmented twice, with
``--candidates faithful`` and ``--candidates clean`` (same seed, masked LM, GloVe and
N_a as the ``cpu`` profile). Two measurements per setting:

- substitutions: every augmented text is aligned word by word with its source
  (BERT basic-tokenizer words, position by position, or ``difflib`` where a replacement
  changed the word count); each replaced span is counted as a stop
  word, a non-word (punctuation, number, bracket, piece) or a broken contraction (a part
  of "is n't", "don't", ... replaced);
- label preservation: the task's fine-tuned teacher classifies every augmented example;
  the share whose prediction equals the original example's gold label, and the share
  whose prediction equals the teacher's prediction on the original (what distillation
  from that teacher sees). The teacher's accuracy on the original examples is printed
  above them.

Usage (teachers are ``TEACHERS/<task>/best`` sequence-classification folders; a task
without one gets the substitution counts only):

    python benchmarks/augment_quality.py --teachers runs/teachers --glue ../shared/assets/glue \\
        --mlm ../shared/assets/models/minilm-wiki-mlm --examples 300 --seed 0
"""

from __future__ import annotations

import argparse
import difflib
import random
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from augment.api import AugmentSpec, augment
from augment.formats import TsvFormat, read_lines, task_preset
from augment.settings import AugmentSettings
from augment.stopwords import ENGLISH_STOPWORDS
from augment.words import contraction_words, is_content_word, split_words
from distill.experiments.profiles import get_profile, per_task
from distill.glue import get_task


@dataclass
class Counts:
    """Substitution and label-preservation counts of one task and setting."""

    examples: int = 0
    augmented: int = 0
    preserved: int | None = None
    agreeing: int | None = None
    substitutions: int = 0
    stop_words: int = 0
    non_words: int = 0
    broken_contractions: int = 0


def sample_lines(train: Path, header: bool, count: int, seed: int) -> tuple[list[str], str | None]:
    """``count`` data lines of ``train`` drawn with ``seed`` (in file order), and the header."""
    lines = [line for _, line in read_lines(train)]
    head, data = (lines[0], lines[1:]) if header else (None, lines)
    chosen = sorted(random.Random(seed).sample(range(len(data)), count))
    return [data[i] for i in chosen], head


def audit(original: str, augmented: str, counts: Counts) -> None:
    """Count the replaced spans of ``augmented`` against ``original`` by kind."""
    source, target = split_words(original), split_words(augmented)
    kept = contraction_words(original, source)
    before, after = [w.normalized for w in source], [w.normalized for w in target]
    if len(before) == len(after):  # one word for one word: compare position by position
        opcodes = [("replace", i, i + 1, i, i + 1) for i in range(len(before))]
        opcodes = [op for op in opcodes if before[op[1]] != after[op[3]]]
    else:  # a replacement that splits into several words (punctuation inside)
        opcodes = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    for kind, a0, a1, b0, b1 in opcodes:
        if kind == "equal":
            continue
        new = [w.normalized for w in target[b0:b1]]
        # Word-for-word replacements are counted one by one; a span whose word count
        # changed put punctuation or a piece in (a replacement is one word).
        spans = (
            [([a], [word]) for a, word in zip(range(a0, a1), new, strict=True)]
            if a1 - a0 == b1 - b0
            else [(list(range(a0, a1)), new)]
        )
        for replaced, words in spans:
            counts.substitutions += 1
            if len(words) == 1 and words[0] in ENGLISH_STOPWORDS:
                counts.stop_words += 1
            elif len(words) != 1 or not is_content_word(words[0]):
                counts.non_words += 1
            if any(index in kept for index in replaced):
                counts.broken_contractions += 1


def predict(folder: Path, pairs: list[tuple[str, ...]], max_length: int) -> list[int]:
    """The teacher's predicted class of each text (or text pair)."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(pairs), 64):
            batch = list(zip(*pairs[start : start + 64], strict=True))
            encoded = tokenizer(
                *batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            predictions += model(**encoded).logits.argmax(-1).tolist()
    return predictions


def measure(task_name: str, args: argparse.Namespace, work: Path) -> dict[str, Counts]:
    task = get_task(task_name)
    preset = task_preset(task_name)
    train = args.glue / task.directory / "train.tsv"
    data, head = sample_lines(train, preset.header, args.examples, args.seed)
    source = work / f"{task_name}.tsv"
    source.write_text("".join(f"{line}\n" for line in ([head] if head else []) + data))
    fmt = TsvFormat(source, preset.columns, preset.header)
    label_index = task.label_column
    if head is not None:
        fmt.header_line(head)
        label_index = head.split("\t").index(task.label_column)
    records = [fmt.parse(number, line) for number, line in enumerate(data, start=2)]
    labels = [task.labels.index(line.split("\t")[label_index]) for line in data]
    teacher = args.teachers / task_name / "best"
    profile = get_profile("cpu")
    settings = AugmentSettings(p_t=profile.p_t, k=profile.k, n_a=per_task(profile.n_a, task_name))
    results = {}
    has_teacher = (teacher / "config.json").is_file()
    on_originals = [-1] * len(records)
    if has_teacher:
        originals = [tuple(record.texts) for record in records]
        on_originals = predict(teacher, originals, task.max_length)
        preserved = sum(p == y for p, y in zip(on_originals, labels, strict=True))
        results["teacher on originals"] = Counts(
            len(records), len(records), preserved, len(records)
        )
    for mode in ("faithful", "clean"):
        spec = AugmentSpec(
            input=source,
            output=work / f"{task_name}.{mode}.tsv",
            task=task_name,
            settings=replace(settings, clean=mode == "clean"),
            seed=args.seed,
            mlm=str(args.mlm),
        )
        augment(spec)
        counts = Counts(examples=len(records))
        texts, gold, teacher_said = [], [], []
        position = -1
        output_lines = spec.output.read_text(encoding="utf-8").splitlines()
        for line in output_lines[1:] if head else output_lines:
            if position + 1 < len(data) and line == data[position + 1]:
                position += 1
                continue
            augmented = fmt.parse(0, line)
            texts.append(tuple(augmented.texts))
            gold.append(labels[position])
            teacher_said.append(on_originals[position])
            for before, after in zip(records[position].texts, augmented.texts, strict=True):
                if before != after:
                    audit(before, after, counts)
        counts.augmented = len(texts)
        if has_teacher:
            predicted = predict(teacher, texts, task.max_length)
            counts.preserved = sum(p == y for p, y in zip(predicted, gold, strict=True))
            counts.agreeing = sum(p == y for p, y in zip(predicted, teacher_said, strict=True))
        results[mode] = counts
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=Path, required=True, help="TEACHERS/<task>/best")
    parser.add_argument("--glue", type=Path, required=True, help="GLUE root (SST-2/, MRPC/, ...)")
    parser.add_argument("--mlm", type=Path, required=True, help="masked LM folder or name")
    parser.add_argument("--tasks", nargs="+", default=["mrpc", "cola", "sst-2"])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"commit {commit}, seed {args.seed}, {args.examples} training examples per task")
    print(
        "| task | setting | augmented examples | teacher label = gold "
        "| = teacher on original | substitutions | stop words | punctuation / non-words "
        "| broken contractions |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for task_name in args.tasks:
            for setting, c in measure(task_name, args, Path(folder)).items():
                share = "no fine-tuned teacher | "
                if c.preserved is not None:
                    share = f"{c.preserved / c.augmented:.1%} ({c.preserved}/{c.augmented})"
                    share += f" | {c.agreeing / c.augmented:.1%}"
                if not c.substitutions:
                    print(f"| {task_name} | {setting} | {c.augmented} | {share} | | | | |")
                    continue
                parts = [c.stop_words, c.non_words, c.broken_contractions]
                shares = " | ".join(f"{n / c.substitutions:.1%}" for n in parts)
                print(
                    f"| {task_name} | {setting} | {c.augmented} | {share} | {c.substitutions} "
                    f"| {shares} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
