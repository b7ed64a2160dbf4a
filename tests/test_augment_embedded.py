"""The embedded default masked LM (``augment/data/``): it ships, loads offline, predicts words.

These use the real shipped weights on the pip-installed MiniLM encoder, so they fail if the
weights are missing, stale or untrained (a fresh head predicts arbitrary word pieces).
"""

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from augment.augmenter import Augmenter, AugmentSettings
from augment.glove import GloveNeighbours
from augment.masked_lm import MaskedLMCandidates
from augment.mlm import EMBEDDED_DELTA, load_masked_lm

PAPER_EXAMPLE = "how can anyone drive such a small car ?"
VEHICLES = {"vehicle", "vehicles", "truck", "automobile", "bus", "van", "bike", "motorcycle"}


@pytest.fixture(scope="module")
def embedded():
    return load_masked_lm("embedded")


def test_shipped_weights_are_under_2_mb_of_fp16_with_their_recipe():
    assert EMBEDDED_DELTA.stat().st_size < 2_000_000
    weights = load_file(str(EMBEDDED_DELTA))
    assert {str(w.dtype) for w in weights.values()} == {"torch.float16"}
    assert "cls.predictions.transform.dense.weight" in weights
    recipe = json.loads(EMBEDDED_DELTA.with_suffix(".json").read_text())
    assert recipe["parameters_saved"] == sum(w.numel() for w in weights.values())
    assert 0.1 < recipe["quality"]["top1"] < recipe["quality"]["top15"] < 1.0


def test_embedded_default_gives_real_words_and_vehicles_for_the_paper_example(embedded):
    assert embedded.description.startswith("embedded default:")
    # Every eligible word of the example is a single piece, so GloVe is never asked.
    unused_glove = GloveNeighbours(["unused"], np.ones((1, 2)), k=15, clean=False)
    masked_lm = MaskedLMCandidates(embedded.model, embedded.tokenizer, 15, False, 32)
    augmenter = Augmenter(masked_lm, unused_glove, AugmentSettings())
    plan = augmenter.plan([PAPER_EXAMPLE])[0]
    candidates = {plan.words[i].normalized: found for i, found in plan.candidates.items()}
    assert set(candidates) == {"anyone", "drive", "small", "car"}
    assert all(len(set(found)) == 15 for found in candidates.values())
    assert VEHICLES & set(candidates["car"]), candidates["car"]
    every = [word for found in candidates.values() for word in found]
    assert sum(word.isalpha() for word in every) >= 0.85 * len(every), every
