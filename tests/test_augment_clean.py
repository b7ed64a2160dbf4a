"""``--candidates clean``: content words only as candidates, contractions kept whole;
checked on real SST-2 and CoLA lines with the real masked LM and GloVe."""

import random

import pytest
from conftest import shared_asset

from augment.augmenter import Augmenter, AugmentSettings
from augment.glove import GloveNeighbours
from augment.masked_lm import MaskedLMCandidates
from augment.mlm import load_masked_lm
from augment.words import contraction_words, is_content_word, split_words

# Real lines: SST-2 writes negations tokenised ("ca n't"), CoLA as typed ("won't", "I'm").
SST2_NEGATIONS = ("ca n't", "wo n't", "is n't", "does n't")


def _sst2_lines(count: int) -> list[str]:
    path = shared_asset("glue", "SST-2", "train.tsv")
    lines = [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    chosen = [next(line for line in lines if f" {form} " in line) for form in SST2_NEGATIONS]
    return chosen + random.Random(0).sample(lines, count - len(chosen))


def _cola_lines() -> list[str]:
    path = shared_asset("glue", "CoLA", "train.tsv")
    lines = [line.split("\t")[3] for line in path.read_text(encoding="utf-8").splitlines()]
    return [next(line for line in lines if form in line) for form in ("won't", "I'm", "it's")]


def _spans(text: str) -> list[str]:
    words = split_words(text)
    return [words[i].text for i in sorted(contraction_words(text, words))]


def test_contractions_are_found_in_real_sst2_and_cola_lines():
    for line, form in zip(_sst2_lines(4), SST2_NEGATIONS, strict=True):
        stem = form.split()[0]
        kept = _spans(line)
        assert {stem, "n", "'", "t"} <= set(kept), (line, kept)
    won, im, its = (_spans(line) for line in _cola_lines())
    assert {"won", "'", "t"} <= set(won) and {"I", "'", "m"} <= set(im)
    assert {"it", "'", "s"} <= set(its)
    assert _spans("the actors ' fees and ' quoted ' words") == []


@pytest.fixture(scope="module")
def models():
    loaded = load_masked_lm(str(shared_asset("models", "minilm-wiki-mlm")))
    glove = GloveNeighbours.load("default", 15, False, 100_000)
    return loaded, glove.words, glove.unit_vectors


def _augmenter(models, clean: bool) -> Augmenter:
    loaded, words, vectors = models
    settings = AugmentSettings(clean=clean, p_t=1.0, n_a=4)
    masked_lm = MaskedLMCandidates(loaded.model, loaded.tokenizer, 15, clean, 64)
    return Augmenter(masked_lm, GloveNeighbours(words, vectors, 15, clean), settings)


def test_clean_candidates_are_content_words_and_contractions_stay_whole(models):
    texts = _sst2_lines(60) + _cola_lines()
    faithful = _augmenter(models, clean=False).plan(texts)
    clean_augmenter = _augmenter(models, clean=True)
    clean = clean_augmenter.plan(texts)
    faithful_candidates = [c for plan in faithful for cs in plan.candidates.values() for c in cs]
    # The official filter lets stop words and punctuation in, so this test can fail.
    assert sum(not is_content_word(c) for c in faithful_candidates) > 50
    assert any("n" in [plan.words[i].text for i in plan.candidates] for plan in faithful)
    for plan in clean:
        kept = contraction_words(plan.text, plan.words)
        assert not kept & set(plan.candidates), plan.text
        for index, candidates in plan.candidates.items():
            word = plan.words[index].normalized
            if candidates == [word]:  # no candidate found: the word keeps itself
                continue
            assert all(is_content_word(c) and c != word for c in candidates), (word, candidates)
    for plan in clean[:4]:
        for sentence in clean_augmenter.sample(plan, random.Random(0)):
            assert sentence.count(" n't ") == plan.text.count(" n't ")
