"""Text corpora in BERT's pre-training format: one sentence a line, a blank line between
documents (``../shared/assets/corpus/enwiki-50MB.txt``).

Read here, at the bottom of the package layers, because both the masked-LM adaptation
(:mod:`augment.mlm`) and general distillation (:mod:`distill.corpus`) read it, and
``augment`` must not import ``distill``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from augment.settings import AugmentError


class MissingCorpus(AugmentError, FileNotFoundError):
    """The corpus file does not exist."""


def read_documents(path: str | Path, max_lines: int | None = None) -> Iterator[list[str]]:
    """Yield documents as lists of sentences; ``max_lines`` caps the lines read."""
    path = Path(path)
    if not path.is_file():
        raise MissingCorpus(f"{path}: corpus not found")
    document: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if max_lines is not None and number >= max_lines:
                break
            sentence = line.strip()
            if sentence:
                document.append(sentence)
            elif document:
                yield document
                document = []
    if document:
        yield document
