"""Words of a sentence as BERT's basic tokenizer sees them, with their places in the text.

BERT's basic tokenizer splits on white space and punctuation, lower-cases and strips
accents. We split the *original* text with the same rules (``BertPreTokenizer``) and keep
character offsets, so an augmented sentence can keep the original casing and spacing
everywhere except in the words it replaces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tokenizers.pre_tokenizers import BertPreTokenizer

from augment.stopwords import ENGLISH_STOPWORDS

_SPLITTER = BertPreTokenizer()
_ASCII_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Word:
    """One basic-tokenizer word: its text as written, its offsets, and its normalised form."""

    text: str
    start: int
    end: int
    normalized: str


def normalize(word: str) -> str:
    """Lower-case and strip accents, as BERT's uncased basic tokenizer does."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


def split_words(text: str) -> list[Word]:
    """Split ``text`` into basic-tokenizer words with character offsets into ``text``."""
    return [
        Word(piece, start, end, normalize(piece))
        for piece, (start, end) in _SPLITTER.pre_tokenize_str(text)
    ]


def is_eligible(word: Word) -> bool:
    """Whether Algorithm 1 may replace ``word``: ASCII letters only and not a stop word.

    "ASCII letters only" is the official script's ``_is_valid`` test, applied after
    accent stripping (so "café" is eligible, "2020" and "e-mail"'s pieces are judged alone).
    """
    return bool(_ASCII_WORD.fullmatch(word.normalized)) and word.normalized not in ENGLISH_STOPWORDS


def match_case(candidate: str, original: str) -> str:
    """Give ``candidate`` the casing pattern of ``original`` (UPPER, Title or as predicted)."""
    if len(original) > 1 and original.isupper():
        return candidate.upper()
    if original[:1].isupper():
        return candidate[:1].upper() + candidate[1:]
    return candidate


def render(text: str, words: list[Word], replacements: dict[int, str], lowercase: bool) -> str:
    """The sentence with ``replacements`` (word index -> new word) applied.

    With ``lowercase`` the result is the official script's form: normalised words joined
    by single spaces. Otherwise the original text is kept outside the replaced words and a
    replacement takes the casing of the word it replaces.
    """
    if lowercase:
        return " ".join(replacements.get(i, word.normalized) for i, word in enumerate(words))
    pieces, cursor = [], 0
    for index in sorted(replacements):
        word = words[index]
        pieces += [text[cursor : word.start], match_case(replacements[index], word.text)]
        cursor = word.end
    pieces.append(text[cursor:])
    return "".join(pieces)
