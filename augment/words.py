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
_APOSTROPHES = ("'", "\u2019")
# What follows the apostrophe of an English contraction: don't, it's, we're, I've, we'll, I'd, I'm.
_CLITICS = frozenset(["t", "s", "re", "ve", "ll", "d", "m"])


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


def is_content_word(normalized: str) -> bool:
    """ASCII letters only and not a stop word: what may be replaced, and (in ``clean``
    mode) what may replace it."""
    return bool(_ASCII_WORD.fullmatch(normalized)) and normalized not in ENGLISH_STOPWORDS


def is_eligible(word: Word) -> bool:
    """Whether Algorithm 1 may replace ``word``: ASCII letters only and not a stop word.

    "ASCII letters only" is the official script's ``_is_valid`` test, applied after
    accent stripping (so "café" is eligible, "2020" and "e-mail"'s pieces are judged alone).
    """
    return is_content_word(word.normalized)


def contraction_words(text: str, words: list[Word]) -> set[int]:
    """Indices of the words that make up a contraction, which ``clean`` mode never replaces.

    BERT's basic tokenizer splits "don't" into "don", "'", "t", and SST-2's tokenised
    negation "is n't" into "is", "n", "'", "t"; replacing a part ("is you't", "ca n't" ->
    "go n't") breaks the sentence. A contraction is a word, an apostrophe and a clitic
    (t, s, re, ve, ll, d, m) written without spaces; a bare "n't" also takes the word before
    it ("ca n't", "wo n't", "is n't").
    """
    kept: set[int] = set()
    for index in range(1, len(words) - 1):
        before, mark, after = words[index - 1], words[index], words[index + 1]
        joined = before.end == mark.start and mark.end == after.start
        if mark.text in _APOSTROPHES and joined and after.normalized in _CLITICS:
            kept.update((index - 1, index, index + 1))
            negation = before.normalized == "n" and after.normalized == "t"
            if negation and index >= 2 and text[words[index - 2].end : before.start].isspace():
                kept.add(index - 2)
    return kept


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
