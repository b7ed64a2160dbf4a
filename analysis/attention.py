"""Look at any model's attention heads on your own sentence, offline.

    python -m analysis attention --model minilm --text "the movie was great ." --out figures/
    python -m analysis attention --model runs/cpu/teacher/sst-2 --student runs/cpu/general \\
        --text "is it big ?" --pair "the truck is big ." --out figures/

``--model`` (and ``--student``) is a local model folder, ``minilm`` (the pip-installed
all-MiniLM-L6-v2 every install has) or a hub name where the hub is reachable. Writes into
``--out``: the layer x head grid (``grid_teacher.png``), the chosen heads with tokens on both
axes (``head_L<layer>_H<head>.png``; ``--heads`` chooses them, else the head that looks most
at the previous token, the next token, [CLS], [SEP], punctuation and itself), the head
statistics (``head_statistics.png``, ``.csv``, ``.json``) and ``attention.html``, an
interactive view that needs no network. With ``--student``: the student's grid with each
layer labelled by the teacher layer it copies (``--mapping``), the difference of every
student head from its mapped teacher head (``grid_difference.png``), the best- and
worst-copied heads side by side, and both models and their difference in the HTML view.
Layers and heads are numbered from 1. Bad input: one line on stderr, exit status 2, before
any model loads where possible, and nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.extract import Example, extract
from analysis.heads import head_statistics, plot_head_statistics
from analysis.interactive import AttentionView, write_attention_html
from analysis.models import MINILM, ModelNotFound, resolve_model
from analysis.plots import (
    plot_attention_grid,
    plot_attention_head,
    plot_teacher_student,
    save_figure,
)
from distill.mapping import STRATEGIES, layer_mapping

# Statistics of analysis.heads that pick the default heads, with what they mean in a title.
PATTERNS = {
    "prev": "to the previous token",
    "next": "to the next token",
    "cls": "to [CLS]",
    "sep": "to [SEP]",
    "punct": "to punctuation",
    "self": "to itself",
}


class BadInput(ValueError):
    """Input the command rejects with one line and exit status 2."""


@dataclass(frozen=True)
class AttentionRequest:
    """What to look at: models, input text, chosen heads (1-based) and the output folder."""

    model: str
    text: str
    out: Path
    pair: str | None = None
    student: str | None = None
    mapping: str = "uniform"
    heads: tuple[tuple[int, int], ...] = ()
    max_length: int = 128


def parse_head(text: str) -> tuple[int, int]:
    """``"3:7"`` -> ``(3, 7)``: layer 3, head 7, both from 1."""
    layer, _, head = text.partition(":")
    if not (layer.isdigit() and head.isdigit()) or int(layer) < 1 or int(head) < 1:
        raise BadInput(f"--heads {text!r}: write LAYER:HEAD with both from 1, e.g. 3:7")
    return int(layer), int(head)


def parse_args(argv: Sequence[str] | None = None) -> AttentionRequest:
    """The request from the command line; :class:`BadInput` for what is wrong with it."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis attention",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument(
        "--model", required=True, help=f"model folder, {MINILM!r} or a hub name (the teacher)"
    )
    parser.add_argument("--text", required=True, help="the sentence (first of a pair)")
    parser.add_argument("--pair", help="second sentence of a pair")
    parser.add_argument("--out", required=True, type=Path, help="folder for figures and HTML")
    parser.add_argument("--student", help="a student to compare with --model (same tokenizer)")
    parser.add_argument(
        "--mapping", default="uniform", choices=STRATEGIES, help="student -> teacher layers"
    )
    parser.add_argument("--heads", nargs="+", default=[], help="heads to draw, LAYER:HEAD")
    parser.add_argument("--max-length", type=int, default=128, help="word pieces kept")
    args = parser.parse_args(argv)
    for name in ("text", "pair"):
        value = getattr(args, name)
        if value is not None and not value.strip():
            raise BadInput(f"--{name} is empty")
    if args.out.exists() and not args.out.is_dir():
        raise BadInput(f"--out {args.out}: exists and is not a folder")
    if args.max_length < 4:
        raise BadInput(f"--max-length {args.max_length}: must be at least 4")
    return AttentionRequest(
        model=args.model,
        text=args.text,
        pair=args.pair,
        out=args.out,
        student=args.student,
        mapping=args.mapping,
        heads=tuple(parse_head(head) for head in args.heads),
        max_length=args.max_length,
    )


def load(name: str):
    """Tokenizer and encoder of ``name`` (already resolved), without transformers' chatter."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # a sentence encoder has no pooler: not news
    transformers_logging.disable_progress_bar()
    try:
        return AutoTokenizer.from_pretrained(name), AutoModel.from_pretrained(name)
    finally:
        transformers_logging.set_verbosity(verbosity)
        transformers_logging.enable_progress_bar()


def pick_heads(stats: pd.DataFrame) -> dict[tuple[int, int], str]:
    """The head strongest at each pattern of :data:`PATTERNS`, with a title for its map."""
    chosen: dict[tuple[int, int], str] = {}
    for statistic, meaning in PATTERNS.items():
        row = stats.loc[stats[statistic].idxmax()]
        key = (int(row["layer"]), int(row["head"]))
        chosen.setdefault(key, f"{row[statistic]:.2f} of its attention {meaning}")
    return chosen


def check_heads(heads: Sequence[tuple[int, int]], attentions: np.ndarray, model: str) -> None:
    layers, count = attentions.shape[:2]
    for layer, head in heads:
        if layer > layers or head > count:
            raise BadInput(f"--heads {layer}:{head}: {model} has {layers} layers of {count} heads")


def teacher_outputs(
    example: Example, request: AttentionRequest
) -> tuple[dict[str, Figure], pd.DataFrame]:
    """Figures and statistics of the teacher (the only model without ``--student``)."""
    stats = head_statistics([example.attentions], [example.tokens])
    titles = {head: "chosen head" for head in request.heads} if request.heads else pick_heads(stats)
    figures = {
        "grid_teacher": plot_attention_grid(example.attentions, f"{request.model}: every head"),
        "head_statistics": plot_head_statistics(stats, f"{request.model}: head statistics"),
    }
    for (layer, head), note in titles.items():
        figures[f"head_L{layer}_H{head}"] = plot_attention_head(
            example.attentions[layer - 1, head - 1],
            example.tokens,
            f"{request.model}: layer {layer}, head {head}\n{note}",
        )
    return figures, stats.assign(model="teacher")


def student_labels(mapping: Sequence[int]) -> list[str]:
    """``layer m (copies teacher layer g(m))`` for student layers 1..M."""
    return [f"layer {m} (copies teacher layer {g})" for m, g in enumerate(mapping[1:], start=1)]


def student_outputs(
    teacher: Example, student: Example, request: AttentionRequest, mapping: Sequence[int]
) -> tuple[dict[str, Figure], pd.DataFrame, np.ndarray]:
    """The student's figures, its statistics, and its maps minus the mapped teacher maps."""
    mapped = teacher.attentions[[g - 1 for g in mapping[1:]]]
    difference = student.attentions - mapped
    labels = student_labels(mapping)
    short = [f"{m} (T{g})" for m, g in enumerate(mapping[1:], start=1)]
    stats = head_statistics([student.attentions], [student.tokens])
    figures = {
        "grid_student": plot_attention_grid(
            student.attentions, f"{request.student}: every head", labels
        ),
        "grid_difference": plot_attention_grid(
            difference,
            f"{request.student} minus {request.model}, {request.mapping} mapping",
            labels,
            difference=True,
        ),
        "head_statistics_student": plot_head_statistics(
            stats, f"{request.student}: head statistics (student layer (teacher layer))", short
        ),
    }
    error = (difference**2).mean(axis=(-2, -1))
    for label, index in (("best", error.argmin()), ("worst", error.argmax())):
        m, h = np.unravel_index(index, error.shape)
        figures[f"{label}_copied_L{m + 1}_H{h + 1}"] = plot_teacher_student(
            mapped[m, h],
            student.attentions[m, h],
            teacher.tokens,
            f"Teacher layer {mapping[m + 1]}, head {h + 1}",
            f"Student layer {m + 1}, head {h + 1} ({label} copied, MSE {error[m, h]:.2g})",
        )
    teacher_layer = pd.Series(mapping[1:], index=range(1, len(mapping)))
    stats = stats.assign(model="student", teacher_layer=stats["layer"].map(teacher_layer))
    return figures, stats, difference


def check_student(teacher: Example, student: Example, vocab: tuple[int, int]) -> None:
    if vocab[0] != vocab[1]:
        raise BadInput(
            f"--student has a vocabulary of {vocab[1]} word pieces, the teacher {vocab[0]}: "
            "the comparison needs one tokenizer"
        )
    if student.attentions.shape[1] != teacher.attentions.shape[1]:
        raise BadInput(
            f"--student has {student.attentions.shape[1]} heads per layer, the teacher "
            f"{teacher.attentions.shape[1]}: heads compare one to one only when equal"
        )


def render(request: AttentionRequest, folder: Path) -> list[Path]:
    """Load the models, run them on the text and write every output into ``folder``."""
    teacher_name = resolve_model(request.model)
    student_name = resolve_model(request.student) if request.student else None
    tokenizer, teacher_model = load(teacher_name)
    pairs = [request.pair] if request.pair is not None else None
    teacher = extract(teacher_model, tokenizer, [request.text], pairs, request.max_length)[0]
    check_heads(request.heads, teacher.attentions, request.model)
    figures, stats = teacher_outputs(teacher, request)
    layers = teacher.attentions.shape[0]
    views = [
        AttentionView(
            request.model, teacher.attentions, [f"layer {n}" for n in range(1, layers + 1)]
        )
    ]
    if student_name is not None:
        _, student_model = load(student_name)
        student = extract(student_model, tokenizer, [request.text], pairs, request.max_length)[0]
        vocab = (teacher_model.config.vocab_size, student_model.config.vocab_size)
        check_student(teacher, student, vocab)
        try:
            mapping = layer_mapping(request.mapping, student.attentions.shape[0], layers)
        except ValueError as error:
            raise BadInput(f"--mapping {request.mapping}: {error}") from error
        more, student_stats, difference = student_outputs(teacher, student, request, mapping)
        figures |= more
        stats = pd.concat([stats, student_stats], ignore_index=True)
        labels = student_labels(mapping)
        views += [
            AttentionView(request.student, student.attentions, labels),
            AttentionView("student minus mapped teacher", difference, labels, difference=True),
        ]
    written = []
    for name, figure in figures.items():
        written += save_figure(figure, folder / name)
    columns = ["model", "layer", "head"] + [c for c in stats if c not in ("model", "layer", "head")]
    stats = stats[columns]
    stats.to_csv(folder / "head_statistics.csv", index=False, float_format="%.6f")
    stats.to_json(folder / "head_statistics.json", orient="records", indent=1, double_precision=6)
    written += [folder / "head_statistics.csv", folder / "head_statistics.json"]
    written.append(write_attention_html(folder / "attention.html", views, teacher.tokens))
    return written


def run(request: AttentionRequest) -> list[Path]:
    """:func:`render` into a temporary folder beside ``--out``, then move the files in.

    A failure half-way (a bad head, a student that does not fit) leaves ``--out`` as it was.
    """
    request.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=request.out.parent, prefix=".attention-") as scratch:
        written = render(request, Path(scratch))
        request.out.mkdir(exist_ok=True)
        moved = []
        for path in written:
            target = request.out / path.name
            os.replace(path, target)
            moved.append(target)
    return moved


def main(argv: Sequence[str] | None = None) -> None:
    try:
        paths = run(parse_args(argv))
    except (BadInput, ModelNotFound) as error:
        print(f"analysis attention: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print("\n".join(map(str, paths)))


if __name__ == "__main__":
    main()
