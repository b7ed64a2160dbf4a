"""Cached teacher targets match freshly computed ones at every position the loss reads."""

import pytest
import torch
from tiny import make_masked_lm, make_tokenizer, tiny_config
from transformers import BertForSequenceClassification

from distill.cli import main
from distill.distiller import IntermediateDistiller
from distill.glue import collator
from distill.teacher_cache import TeacherCache


def make_batch(tokenizer):
    texts = ["the cat is very fun", "a dog", "how can anyone drive such a small car ?"]
    encoded = tokenizer(texts)
    features = [{k: v[i] for k, v in encoded.items()} | {"index": i} for i in range(3)]
    return collator(tokenizer)(features)


def test_cached_targets_equal_computed_ones(tmp_path):
    tokenizer = make_tokenizer(tmp_path)
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_config(len(tokenizer), layers=4)).eval()
    student = BertForSequenceClassification(tiny_config(len(tokenizer), layers=2, hidden=16))
    student.eval()  # no dropout: both losses see the same student
    distiller = IntermediateDistiller(student, teacher, [0, 2, 4])
    batch = make_batch(tokenizer)
    calls = []

    def compute(b):
        calls.append(1)
        return distiller.teacher_targets(teacher, b)

    cache = TeacherCache(tmp_path / "cache", {"teacher": "tiny"})
    fresh = cache.targets(batch, compute)
    cached = cache.targets(batch, compute)
    assert len(calls) == 1 and len(list((tmp_path / "cache").glob("*.safetensors"))) == 3
    mask = batch["attention_mask"].bool()
    for got, want in zip(cached[0], fresh[0], strict=True):
        torch.testing.assert_close(got[mask], want[mask], atol=2e-3, rtol=2e-3)
        assert got[~mask].abs().max() == 0
    pairs = mask[:, None, :, None] & mask[:, None, None, :]
    for got, want in zip(cached[1], fresh[1], strict=True):
        torch.testing.assert_close(
            got[pairs.expand_as(got)], want[pairs.expand_as(want)], atol=2e-3, rtol=2e-3
        )
    fresh_loss, cached_loss = distiller(batch, *fresh)["loss"], distiller(batch, *cached)["loss"]
    torch.testing.assert_close(cached_loss, fresh_loss, atol=1e-3, rtol=1e-3)


def test_cache_refuses_other_fingerprint(tmp_path):
    TeacherCache(tmp_path, {"teacher": "a", "mapping": [0, 2, 4]})
    TeacherCache(tmp_path, {"teacher": "a", "mapping": [0, 2, 4]})
    with pytest.raises(ValueError, match="was built for"):
        TeacherCache(tmp_path, {"teacher": "a", "mapping": [0, 3, 4]})


def test_general_distillation_with_cache(tmp_path):
    teacher = make_masked_lm(tmp_path / "teacher", layers=4, hidden=32, heads=4, intermediate=64)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat is fun\nit was good\n\na dog\n\nhow can anyone drive such a car ?")
    command = (
        f"general --teacher {teacher} --corpus {corpus} --student-preset cpu "
        f"--without attn --mapping bottom --batch-size 2 --epochs 2 "
        f"--teacher-cache {tmp_path / 'cache'}"
    ).split()
    main([*command, "--output-dir", str(tmp_path / "run")])
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 3  # one per packed sequence
    with pytest.raises(ValueError, match="needs --padding masked"):
        main([*command, "--output-dir", str(tmp_path / "run2"), "--padding", "official"])
