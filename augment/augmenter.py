"""Algorithm 1 of TinyBERT: candidates for every eligible word, then N_a sampled sentences.

For each word of a sentence that is eligible (:func:`augment.words.is_eligible`): if the
masked LM's tokenizer keeps it as one piece, its candidates are the masked LM's top K
predictions at that position; otherwise they are its K nearest GloVe neighbours. A word
with no candidates keeps itself. Then N_a times, each eligible word is replaced by a
random candidate with probability p_t; a sample equal to the original or to an earlier
sample is dropped, so a sentence yields at most N_a new ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from augment.glove import GloveNeighbours
from augment.masked_lm import MaskedLMCandidates, MaskRequest, build_request
from augment.words import Word, is_eligible, render, split_words


@dataclass(frozen=True)
class AugmentSettings:
    """The knobs of Algorithm 1 and the choices the paper leaves open."""

    p_t: float = 0.4
    n_a: int = 20
    k: int = 15
    clean: bool = False
    paired_mlm_input: bool = True
    lowercase_output: bool = False
    max_seq_length: int = 512


@dataclass
class SentencePlan:
    """A sentence, its words, and the candidates of each eligible word (by word index)."""

    text: str
    words: list[Word]
    candidates: dict[int, list[str]] = field(default_factory=dict)


class TextTooLong(ValueError):
    """The sentence has more word pieces than the masked LM can take."""


class Augmenter:
    """Plans candidates for a batch of sentences at once and samples augmented sentences."""

    def __init__(
        self, masked_lm: MaskedLMCandidates, glove: GloveNeighbours, settings: AugmentSettings
    ) -> None:
        self.masked_lm = masked_lm
        self.glove = glove
        self.settings = settings
        self.tokenizer = masked_lm.tokenizer

    def piece_ids(self, words_of_sentences: list[list[Word]]) -> list[list[list[int]]]:
        """Word-piece ids of every word of every sentence, in one tokenizer call."""
        texts = [[word.text for word in words] for words in words_of_sentences if words]
        encoded = iter(
            self.tokenizer(texts, is_split_into_words=True, add_special_tokens=False).encodings
            if texts
            else []
        )
        result = []
        for words in words_of_sentences:
            pieces: list[list[int]] = [[] for _ in words]
            if words:
                encoding = next(encoded)
                for piece, word_index in zip(encoding.ids, encoding.word_ids, strict=True):
                    pieces[word_index].append(piece)
            result.append(pieces)
        return result

    def plan(self, texts: list[str]) -> list[SentencePlan | TextTooLong]:
        """Candidates for every eligible word of every text (a too-long text gets the error)."""
        plans: list[SentencePlan | TextTooLong] = []
        requests: list[MaskRequest] = []
        request_slots: list[tuple[SentencePlan, int]] = []
        glove_slots: list[tuple[SentencePlan, int]] = []
        words_of_sentences = [split_words(text) for text in texts]
        limit = self.settings.max_seq_length
        for text, words, pieces in zip(
            texts, words_of_sentences, self.piece_ids(words_of_sentences), strict=True
        ):
            length = sum(len(p) for p in pieces)
            if length + 2 > limit:
                plans.append(TextTooLong(f"{length} word pieces; the masked LM takes {limit - 2}"))
                continue
            plan = SentencePlan(text, words)
            plans.append(plan)
            for index, word in enumerate(words):
                if not is_eligible(word):
                    continue
                if len(pieces[index]) == 1:
                    requests.append(
                        build_request(
                            pieces, index, self.tokenizer, self.settings.paired_mlm_input, limit
                        )
                    )
                    request_slots.append((plan, index))
                else:
                    glove_slots.append((plan, index))
        masked_words = [plan.words[index].normalized for plan, index in request_slots]
        for (plan, index), found in zip(
            request_slots, self.masked_lm.candidates(requests, masked_words), strict=True
        ):
            plan.candidates[index] = found or [plan.words[index].normalized]
        neighbours = self.glove.neighbours([plan.words[i].normalized for plan, i in glove_slots])
        for plan, index in glove_slots:
            found = neighbours[plan.words[index].normalized]
            plan.candidates[index] = found or [plan.words[index].normalized]
        return plans

    def sample(self, plan: SentencePlan, rng: random.Random) -> list[str]:
        """Up to N_a new sentences, each eligible word replaced with probability p_t."""
        lowercase = self.settings.lowercase_output
        seen = {plan.text, render(plan.text, plan.words, {}, lowercase)}
        samples = []
        for _ in range(self.settings.n_a):
            replacements = {}
            for index in sorted(plan.candidates):
                candidate = rng.choice(plan.candidates[index])
                if rng.random() < self.settings.p_t:
                    replacements[index] = candidate
            sentence = render(plan.text, plan.words, replacements, lowercase)
            if sentence not in seen:
                seen.add(sentence)
                samples.append(sentence)
        return samples
