"""Render every analysis figure for a teacher/student pair in one call.

Used to eyeball the figures on tiny random models and as the template the notebooks
follow for real checkpoints::

    python -m analysis.demo --teacher runs/teacher --student runs/tinybert4 --out figures/
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerFast

from analysis.attention import student_labels
from analysis.extract import extract
from analysis.heads import (
    embed_heads,
    head_statistics,
    joint_heads,
    js_distance_matrix,
    plot_head_embedding,
    plot_head_statistics,
)
from analysis.layer_mapping import attention_mse_matrix, cka_matrix, plot_layer_similarity
from analysis.plots import (
    plot_attention_grid,
    plot_attention_head,
    plot_teacher_student,
    save_figure,
)
from distill.mapping import layer_mapping

SENTENCES = [
    "the movie was unbelievable , i love it .",
    "how can anyone drive such a small car ?",
    "it is not a good film but the actors are funny .",
]
PAIRS = ["this story is sad !", "the truck is big .", "i hate this boring plot ."]


def render_all(
    teacher: PreTrainedModel,
    student: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    out_dir: str | Path,
    sentences: Sequence[str] = SENTENCES,
    pairs: Sequence[str] | None = PAIRS,
    mapping: str = "uniform",
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Save all figures for ``sentences`` (first example for single-sentence maps)."""
    out_dir = Path(out_dir)
    teacher_examples = extract(teacher, tokenizer, sentences, pairs)
    student_examples = extract(student, tokenizer, sentences, pairs)
    first_teacher, first_student = teacher_examples[0], student_examples[0]
    student_layers = first_student.attentions.shape[0]
    teacher_layers = first_teacher.attentions.shape[0]
    top = layer_mapping(mapping, student_layers, teacher_layers)[-1]

    figures = {
        "head_pieces": plot_attention_head(
            first_teacher.attentions[-1, 0], first_teacher.tokens, "Teacher, last layer, head 1"
        ),
        "head_words": plot_attention_head(
            first_teacher.word_attentions()[-1, 0],
            first_teacher.words,
            "Teacher, last layer, head 1 (word level)",
        ),
        "grid_teacher": plot_attention_grid(first_teacher.attentions, "Teacher attention"),
        "grid_student": plot_attention_grid(
            first_student.attentions,
            f"Student attention ({mapping} mapping)",
            student_labels(layer_mapping(mapping, student_layers, teacher_layers)),
        ),
        "teacher_vs_student": plot_teacher_student(
            first_teacher.attentions[top - 1, 0],
            first_student.attentions[-1, 0],
            first_teacher.tokens,
            f"Teacher layer {top}, head 1",
            f"Student layer {student_layers}, head 1 ({mapping} mapping)",
        ),
    }
    for name, examples in (("teacher", teacher_examples), ("student", student_examples)):
        stats = head_statistics([e.attentions for e in examples], [e.tokens for e in examples])
        figures[f"head_stats_{name}"] = plot_head_statistics(stats, f"{name.title()} heads")
    pooled, labels = joint_heads(
        {
            "teacher": [e.attentions for e in teacher_examples],
            "student": [e.attentions for e in student_examples],
        }
    )
    figures["head_embedding"] = plot_head_embedding(embed_heads(js_distance_matrix(pooled)), labels)
    figures["layer_cka"], figures["layer_mse"] = plot_layer_similarity(
        cka_matrix(student_examples, teacher_examples),
        attention_mse_matrix(student_examples, teacher_examples),
    )
    saved = []
    for name, figure in figures.items():
        saved += save_figure(figure, out_dir / name, formats)
    return saved


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="teacher checkpoint directory")
    parser.add_argument("--student", required=True, help="student checkpoint directory")
    parser.add_argument("--out", required=True, help="directory for the figures")
    parser.add_argument("--mapping", default="uniform", help="uniform, top or bottom")
    args = parser.parse_args(argv)
    tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    saved = render_all(
        AutoModel.from_pretrained(args.teacher),
        AutoModel.from_pretrained(args.student),
        tokenizer,
        args.out,
        mapping=args.mapping,
    )
    print("\n".join(map(str, saved)))


if __name__ == "__main__":
    main()
