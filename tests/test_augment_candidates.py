import random

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from augment.augmenter import Augmenter, AugmentSettings, TextTooLong
from augment.glove import GloveError, GloveNeighbours
from augment.masked_lm import MaskedLMCandidates, build_request
from augment.reference import ReferenceAugmenter

SENTENCES = [
    "How can anyone drive such a small car?",
    "The movie was unbelievable fun, really.",
    "A big red truck and a slow blue car.",
    "Actors play; the plot is boring.",
]


@pytest.fixture(scope="module")
def tiny_mlm(tiny_mlm_dir):
    return AutoModelForMaskedLM.from_pretrained(tiny_mlm_dir).eval(), AutoTokenizer.from_pretrained(
        tiny_mlm_dir
    )


@pytest.fixture(scope="module")
def glove(tiny_glove_file):
    return GloveNeighbours.load(str(tiny_glove_file), k=5, clean=False, vocab_limit=None)


def make_augmenter(tiny_mlm, glove, clean=False, batch_size=3, **settings):
    model, tokenizer = tiny_mlm
    candidates = MaskedLMCandidates(model, tokenizer, k=5, clean=clean, batch_size=batch_size)
    return Augmenter(candidates, glove, AugmentSettings(k=5, clean=clean, **settings))


def test_build_request_pairs_masked_and_original_sentences(tiny_mlm):
    _, tokenizer = tiny_mlm
    pieces = [[10], [11, 12], [13]]
    request = build_request(pieces, 2, tokenizer, paired=True, max_length=64)
    cls, sep, mask = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id
    assert request.input_ids == (cls, 10, 11, 12, mask, sep, 10, 11, 12, 13, sep)
    assert request.token_type_ids == (0,) * 6 + (1,) * 5
    assert request.mask_position == 4
    plain = build_request(pieces, 0, tokenizer, paired=False, max_length=64)
    assert plain.input_ids == (cls, mask, 11, 12, 13, sep) and plain.mask_position == 1
    cut = build_request(pieces, 0, tokenizer, paired=True, max_length=8)
    assert len(cut.input_ids) == 8


def test_batched_candidates_equal_the_official_per_word_loop(tiny_mlm, glove):
    model, tokenizer = tiny_mlm
    reference = ReferenceAugmenter(model, tokenizer, glove.words, glove.unit_vectors, k=5)
    plans = make_augmenter(tiny_mlm, glove).plan(SENTENCES)
    for sentence, plan in zip(SENTENCES, plans, strict=True):
        assert plan.candidates == reference.candidates(sentence)
    # "unbelievable" splits into three pieces, so its candidates are GloVe neighbours.
    movie = plans[1]
    index = [w.text for w in movie.words].index("unbelievable")
    assert movie.candidates[index] == glove.neighbours(["unbelievable"])["unbelievable"]


def test_batch_size_does_not_change_candidates(tiny_mlm, glove):
    one = make_augmenter(tiny_mlm, glove, batch_size=1).plan(SENTENCES)
    many = make_augmenter(tiny_mlm, glove, batch_size=64).plan(SENTENCES)
    assert [p.candidates for p in one] == [p.candidates for p in many]


def test_faithful_drops_only_continuation_pieces_and_clean_drops_more(tiny_mlm, glove):
    model, tokenizer = tiny_mlm
    # Bias the output layer so that special, unused, punctuation and ## tokens win.
    favoured = ["[SEP]", "[unused0]", ".", "##ing", "car", "truck"]
    with torch.no_grad():
        model.cls.predictions.bias += 0  # keep the tied layout; bias is per token
        for rank, token in enumerate(favoured):
            model.cls.predictions.bias[tokenizer.convert_tokens_to_ids(token)] += 100 - rank
    try:
        words = {"faithful": False, "clean": True}
        found = {}
        for name, clean in words.items():
            plan = make_augmenter(tiny_mlm, glove, clean=clean).plan(["drive such a small car"])[0]
            index = [w.text for w in plan.words].index("car")
            found[name] = plan.candidates[index]
    finally:
        with torch.no_grad():
            for rank, token in enumerate(favoured):
                model.cls.predictions.bias[tokenizer.convert_tokens_to_ids(token)] -= 100 - rank
    assert found["faithful"] == ["[SEP]", "[unused0]", ".", "car"]
    assert found["clean"][0] == "truck" and len(found["clean"]) == 5
    assert not {"[SEP]", "[unused0]", ".", "##ing", "car"} & set(found["clean"])


def test_stopwords_and_non_words_get_no_candidates(tiny_mlm, glove):
    plan = make_augmenter(tiny_mlm, glove).plan(["it is a 2020 car ."])[0]
    assert set(plan.candidates) == {4}


def test_too_long_text_is_reported_not_truncated(tiny_mlm, glove):
    augmenter = make_augmenter(tiny_mlm, glove, max_seq_length=8)
    plans = augmenter.plan(["small car", "a very very very small and slow blue car ."])
    assert not isinstance(plans[0], TextTooLong)
    assert isinstance(plans[1], TextTooLong)


def test_sampling_replaces_with_probability_p_t_and_drops_duplicates(tiny_mlm, glove):
    augmenter = make_augmenter(tiny_mlm, glove, n_a=50, p_t=0.4)
    plan = augmenter.plan(["How can anyone drive such a small car?"])[0]
    samples = augmenter.sample(plan, random.Random(0))
    assert len(samples) == len(set(samples)) and plan.text not in samples
    assert 0 < len(samples) <= 50
    never = make_augmenter(tiny_mlm, glove, p_t=0.0)
    assert never.sample(plan, random.Random(0)) == []
    assert augmenter.sample(plan, random.Random(7)) == augmenter.sample(plan, random.Random(7))


def test_glove_neighbours_are_cosine_nearest_without_the_word(tmp_path):
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.7, 0.7]], dtype=np.float32)
    words = ["car", "truck", "sky", "bike", "7"]
    glove = GloveNeighbours(words, vectors, k=3, clean=False)
    assert glove.neighbours(["car", "nope"]) == {"car": ["truck", "7", "sky"], "nope": []}
    clean = GloveNeighbours(words, vectors, k=3, clean=True)
    assert clean.neighbours(["car"]) == {"car": ["truck", "sky", "bike"]}


def test_glove_reads_stanford_word2vec_and_keyedvectors_files(tmp_path, tiny_glove_file):
    from gensim.models import KeyedVectors

    stanford = GloveNeighbours.load(str(tiny_glove_file), k=4, clean=False, vocab_limit=None)
    lines = tiny_glove_file.read_text().splitlines()
    word2vec = tmp_path / "vectors.w2v.txt"
    word2vec.write_text(f"{len(lines)} 8\n" + "\n".join(lines) + "\n")
    keyed = tmp_path / "vectors.kv"
    KeyedVectors.load_word2vec_format(str(word2vec)).save(str(keyed))
    for path in (word2vec, keyed):
        other = GloveNeighbours.load(str(path), k=4, clean=False, vocab_limit=None)
        assert other.neighbours(["car", "movie"]) == stanford.neighbours(["car", "movie"])
    limited = GloveNeighbours.load(str(tiny_glove_file), k=4, clean=False, vocab_limit=10)
    assert len(limited.words) == 10


def test_glove_errors_name_the_file(tmp_path):
    with pytest.raises(GloveError, match="no such word-vector file"):
        GloveNeighbours.load(str(tmp_path / "missing.txt"), k=3, clean=False, vocab_limit=None)
    broken = tmp_path / "broken.txt"
    broken.write_text("car 0.1 0.2\ntruck 0.3\n")
    with pytest.raises(GloveError, match="broken.txt"):
        GloveNeighbours.load(str(broken), k=3, clean=False, vocab_limit=None)
