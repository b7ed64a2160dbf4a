"""Masked-LM adaptation (``augment.mlm``) on a tiny encoder and a corpus the test writes."""

import json

import pytest
import tiny
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

import augment.mlm.adapt as adapt_module
from augment.documents import read_documents
from augment.mlm import MaskedLMError, build_masked_lm_on_encoder, load_adapted, load_masked_lm
from augment.mlm.adapt import AdaptConfig, adapt, trainable_parameter_names
from augment.mlm.corpus import mask_batch, pack_segments

SENTENCES = [
    "the movie was fun .",
    "a big red truck and a slow blue car .",
    "actors play a sad story .",
    "i love the old film .",
    "the cat and the dog play .",
]


@pytest.fixture
def corpus(tmp_path):
    documents = [SENTENCES[i:] + SENTENCES[:i] for i in range(len(SENTENCES))] * 4
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join("\n".join(doc) for doc in documents) + "\n", encoding="utf-8")
    return path


def config_for(corpus, tiny_mlm_dir, **changes):
    settings = dict(
        encoder=str(tiny_mlm_dir),
        corpus=str(corpus),
        train_layers=1,
        steps=4,
        batch_size=4,
        min_words=8,
        max_pieces=16,
        held_out_every=4,
        eval_segments=8,
        checkpoint_every=1,
    )
    return AdaptConfig(**(settings | changes))


def test_documents_and_packing(corpus):
    documents = list(read_documents(corpus))
    assert len(documents) == 20 and documents[0] == SENTENCES
    segments = list(pack_segments(SENTENCES, min_words=8))
    assert segments[0] == "the movie was fun . a big red truck and a slow blue car ."
    assert " ".join(segments) == " ".join(SENTENCES)


def test_masking_follows_bert_rule_and_never_masks_special_tokens(tiny_mlm_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_mlm_dir)
    segments = [tokenizer("the big red car is fast and fun")["input_ids"]] * 400
    batch = mask_batch(segments, tokenizer, torch.Generator().manual_seed(0))
    masked = batch["labels"] != -100
    assert not masked[:, 0].any() and not masked[:, -1].any()
    share = masked[:, 1:-1].float().mean().item()
    assert 0.12 < share < 0.2
    replaced = batch["input_ids"][masked]
    as_mask = (replaced == tokenizer.mask_token_id).float().mean().item()
    kept = (replaced == batch["labels"][masked]).float().mean().item()
    assert 0.75 < as_mask < 0.85 and 0.05 < kept < 0.16


def test_adapt_trains_and_saves_only_the_head_and_top_layers(corpus, tiny_mlm_dir, tmp_path):
    model = build_masked_lm_on_encoder(tiny_mlm_dir)
    frozen_before = model.bert.encoder.layer[0].attention.self.query.weight.clone()
    output = tmp_path / "delta.safetensors"
    tokenizer = AutoTokenizer.from_pretrained(tiny_mlm_dir)
    quality = adapt(model, tokenizer, config_for(corpus, tiny_mlm_dir), output)
    assert 0.0 <= quality["top1"] <= quality["top15"] <= 1.0 and quality["masked_pieces"] > 0
    saved = load_file(str(output))
    assert set(saved) == set(trainable_parameter_names(model, 1))
    assert all(t.dtype == torch.float16 for t in saved.values())
    assert any(name.startswith("bert.encoder.layer.1.") for name in saved)
    assert not any(name.startswith("bert.encoder.layer.0.") for name in saved)
    assert torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, frozen_before)
    recipe = json.loads(output.with_suffix(".json").read_text())
    assert recipe["train_layers"] == 1 and recipe["quality"] == quality
    assert not output.with_suffix(".checkpoint.pt").exists()

    loaded = load_adapted(output, tiny_mlm_dir)
    for name, tensor in saved.items():
        assert torch.equal(loaded.model.state_dict()[name], tensor.float())


def test_bias_adaptation_trains_every_bias_and_norm_and_no_matrix(corpus, tiny_mlm_dir, tmp_path):
    model = build_masked_lm_on_encoder(tiny_mlm_dir)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    output = tmp_path / "bitfit.safetensors"
    config = config_for(corpus, tiny_mlm_dir, train_layers=0, train_biases=True)
    adapt(model, AutoTokenizer.from_pretrained(tiny_mlm_dir), config, output)
    saved = load_file(str(output))
    encoder = {name for name in saved if name.startswith("bert.")}
    assert "bert.encoder.layer.0.attention.self.query.bias" in encoder
    assert "bert.embeddings.LayerNorm.weight" in encoder
    assert all(saved[name].dim() == 1 for name in encoder)
    query = "bert.encoder.layer.1.attention.self.query"
    assert torch.equal(model.state_dict()[f"{query}.weight"], before[f"{query}.weight"])
    assert not torch.equal(model.state_dict()[f"{query}.bias"], before[f"{query}.bias"])
    assert "every bias and LayerNorm" in load_adapted(output, tiny_mlm_dir).description


def test_interrupted_adaptation_resumes_on_the_same_curve(
    corpus, tiny_mlm_dir, tmp_path, monkeypatch
):
    tokenizer = AutoTokenizer.from_pretrained(tiny_mlm_dir)
    config = config_for(corpus, tiny_mlm_dir)
    straight = tmp_path / "straight.safetensors"
    adapt(build_masked_lm_on_encoder(tiny_mlm_dir), tokenizer, config, straight)

    real, calls = adapt_module.mask_batch, {"n": 0}

    def interrupt_third_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    resumed = tmp_path / "resumed.safetensors"
    monkeypatch.setattr(adapt_module, "mask_batch", interrupt_third_step)
    with pytest.raises(KeyboardInterrupt):
        adapt(build_masked_lm_on_encoder(tiny_mlm_dir), tokenizer, config, resumed)
    assert resumed.with_suffix(".checkpoint.pt").exists() and not resumed.exists()
    monkeypatch.setattr(adapt_module, "mask_batch", real)
    adapt(build_masked_lm_on_encoder(tiny_mlm_dir), tokenizer, config, resumed)
    first, second = load_file(str(straight)), load_file(str(resumed))
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_bad_masked_lm_specs_are_clear_errors(tmp_path):
    with pytest.raises(MaskedLMError, match="not a Hugging Face model folder"):
        load_masked_lm(str(tmp_path))
    with pytest.raises(MaskedLMError, match="adapted masked-LM weights are missing"):
        load_adapted(tmp_path / "none.safetensors", tmp_path)
    with pytest.raises(ValueError, match="train_layers must be in 0..2"):
        trainable_parameter_names(
            build_masked_lm_on_encoder(tiny.make_masked_lm(tmp_path / "e")), 5
        )
