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
from collections.abc import Callable
from dataclasses import dataclass, field

from augment.glove import GloveNeighbours
from augment.masked_lm import MaskedLMCandidates, MaskRequest, build_request
from augment.settings import AugmentSettings, TextTooLong
from augment.words import Word, contraction_words, is_eligible, render, split_words

__all__ = ["Augmenter", "AugmentSettings", "SentencePlan", "TextTooLong"]


@dataclass
class SentencePlan:
    """A sentence, its words, and the candidates of each eligible word (by word index)."""

    text: str
    words: list[Word]
    candidates: dict[int, list[str]] = field(default_factory=dict)


class Augmenter:
    """Plans candidates for a batch of sentences at once and samples augmented sentences."""

    def __init__(
        self, masked_lm: MaskedLMCandidates, glove: GloveNeighbours, settings: AugmentSettings
    ) -> None:
        self.masked_lm = masked_lm
        self.glove = glove
        self.settings = settings
        self.tokenizer = masked_lm.tokenizer
        model_max = masked_lm.model.config.max_position_embeddings
        self.max_length = min(settings.max_seq_length or model_max, model_max)

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

    def plan(
        self, texts: list[str], on_progress: Callable[[int, int], None] | None = None
    ) -> list[SentencePlan | TextTooLong]:
        """Candidates for every eligible word of every text (a too-long text gets the error).

        ``on_progress(done, total)`` is called as the masked-LM batches finish, so that a
        caller can show progress inside one batched call.
        """
        plans: list[SentencePlan | TextTooLong] = []
        requests: list[MaskRequest] = []
        request_slots: list[tuple[SentencePlan, int]] = []
        glove_slots: list[tuple[SentencePlan, int]] = []
        words_of_sentences = [split_words(text) for text in texts]
        limit = self.max_length
        for text, words, pieces in zip(
            texts, words_of_sentences, self.piece_ids(words_of_sentences), strict=True
        ):
            length = sum(len(p) for p in pieces)
            if length + 2 > limit:
                plans.append(TextTooLong(f"{length} word pieces; the masked LM takes {limit - 2}"))
                continue
            plan = SentencePlan(text, words)
            plans.append(plan)
            kept = contraction_words(text, words) if self.settings.clean else set()
            for index, word in enumerate(words):
                if not is_eligible(word) or index in kept:
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
        found_lists = self.masked_lm.candidates(requests, masked_words, on_progress)
        for (plan, index), found in zip(request_slots, found_lists, strict=True):
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
