"""Cached teacher targets match freshly computed ones at every position the loss reads."""

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tiny import make_masked_lm, make_tokenizer, tiny_config
from transformers import AutoModelForMaskedLM, BertForSequenceClassification

from distill.cli import main
from distill.distiller import IntermediateDistiller, teacher_logits
from distill.glue import Example, GlueDataset, collator
from distill.teacher_cache import TeacherCache, cached_logits, estimated_bytes, model_id


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
    first = cache.targets(batch, compute)  # computed and stored
    cached = cache.targets(batch, compute)  # read back
    assert len(calls) == 1 and len(list(cache.directory.glob("*.safetensors"))) == 3
    # The run that fills the cache sees exactly what later runs read: same seed, same run.
    for got, want in zip([*cached[0], *cached[1]], [*first[0], *first[1]], strict=True):
        assert torch.equal(got, want)
    fresh = distiller.teacher_targets(teacher, batch)
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


def test_cache_folder_is_named_by_its_fingerprint(tmp_path):
    same = TeacherCache(tmp_path, {"teacher": "a", "mapping": [0, 2, 4]}).directory
    assert TeacherCache(tmp_path, {"mapping": [0, 2, 4], "teacher": "a"}).directory == same
    other = TeacherCache(tmp_path, {"teacher": "a", "mapping": [0, 3, 4]}).directory
    assert other != same
    assert json.loads((other / "meta.json").read_text())["mapping"] == [0, 3, 4]


def test_cached_logits_are_the_teachers_and_computed_once(tmp_path):
    tokenizer = make_tokenizer(tmp_path)
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_config(len(tokenizer), layers=2)).eval()
    texts = ["the cat is very fun", "a dog", "how can anyone drive such a small car ?", "it"]
    dataset = GlueDataset([Example((t,), 0) for t in texts], tokenizer, max_length=16)
    calls = []

    def logits_of(batch):
        calls.append(len(batch["index"]))
        return teacher_logits(teacher)(batch)

    first = cached_logits(tmp_path, {"t": 1}, logits_of, dataset, collator(tokenizer), 3)
    again = cached_logits(tmp_path, {"t": 1}, logits_of, dataset, collator(tokenizer), 3)
    assert sum(calls) == len(texts)  # one pass, then read from disk
    torch.testing.assert_close(again, first)
    for index in range(len(texts)):
        alone = collator(tokenizer)([dataset[index]])
        torch.testing.assert_close(first[index], teacher_logits(teacher)(alone)[0])


def general_with_cache(tmp_path, epochs: int = 2) -> tuple[str, list[str]]:
    """A tiny teacher and the ``general`` command that distils it through a cache in
    ``tmp_path / "cache"`` (add ``--output-dir``)."""
    teacher = make_masked_lm(tmp_path / "teacher", layers=4, hidden=32, heads=4, intermediate=64)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat is fun\nit was good\n\na dog\n\nhow can anyone drive such a car ?")
    command = (
        f"general --teacher {teacher} --corpus {corpus} --student-preset cpu "
        f"--without attn --mapping bottom --batch-size 2 --epochs {epochs} "
        f"--teacher-cache {tmp_path / 'cache'}"
    ).split()
    return teacher, command


def test_general_distillation_with_cache(tmp_path, capsys):
    _, command = general_with_cache(tmp_path)
    main([*command, "--output-dir", str(tmp_path / "run")])
    files = list((tmp_path / "cache").glob("targets-*/*.safetensors"))
    assert len(files) == 3  # one per packed sequence
    with pytest.raises(SystemExit) as exit_info:  # a user error: one line, exit status 2
        main([*command, "--output-dir", str(tmp_path / "run2"), "--padding", "official"])
    assert exit_info.value.code == 2
    assert "needs --padding masked" in capsys.readouterr().err


def test_a_teacher_trained_again_in_its_folder_gets_a_new_cache(tmp_path):
    """The cache knows a teacher by its weights files, not only its folder: targets of a
    teacher since trained again in the same folder are never read."""
    teacher, command = general_with_cache(tmp_path, epochs=1)
    main([*command, "--output-dir", str(tmp_path / "before")])
    retrained = AutoModelForMaskedLM.from_pretrained(teacher)
    with torch.no_grad():
        retrained.bert.embeddings.word_embeddings.weight.mul_(2)
    retrained.save_pretrained(teacher)
    main([*command, "--output-dir", str(tmp_path / "after")])
    metas = [json.loads(m.read_text()) for m in (tmp_path / "cache").glob("targets-*/meta.json")]
    folder, *weights = metas[0]["teacher"]
    assert len(metas) == 2 and metas[1]["teacher"][0] == folder and weights
    assert metas[0]["teacher"] != metas[1]["teacher"]
    assert model_id("bert-base-uncased") == "bert-base-uncased"  # a hub name as given


def padded_and_stacked(cache, indices, length):
    """The cache read as first written (load, widen, pad, stack): the reference the
    one-pass read into zeroed batch tensors must equal bit for bit."""
    examples = [load_file(cache._path(i)) for i in indices]
    layers = sum(key.startswith("hidden.") for key in examples[0])

    def stacked(name, pad):
        return torch.stack([F.pad(e[name].float(), pad(e[name])) for e in examples])

    hidden = [
        stacked(f"hidden.{k}", lambda t: (0, 0, 0, length - t.shape[0])) for k in range(layers)
    ]
    scores = [
        stacked(f"scores.{k}", lambda t: (0, length - t.shape[-1], 0, length - t.shape[-1]))
        for k in range(layers - 1)
    ]
    return hidden, scores


def tiny_pair(tmp_path):
    tokenizer = make_tokenizer(tmp_path)
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_config(len(tokenizer), layers=4)).eval()
    student = BertForSequenceClassification(tiny_config(len(tokenizer), layers=2, hidden=16))
    return tokenizer, teacher, IntermediateDistiller(student, teacher, [0, 2, 4])


def test_one_pass_read_equals_pad_and_stack(tmp_path):
    tokenizer, teacher, distiller = tiny_pair(tmp_path)
    batch = make_batch(tokenizer)
    cache = TeacherCache(tmp_path / "cache", {"teacher": "tiny"})
    hidden, scores = cache.targets(batch, lambda b: distiller.teacher_targets(teacher, b))
    want_hidden, want_scores = padded_and_stacked(cache, [0, 1, 2], batch["input_ids"].shape[1])
    for got, want in zip([*hidden, *scores], [*want_hidden, *want_scores], strict=True):
        assert got.dtype == torch.float32 and torch.equal(got, want)


def test_bounded_cache_stops_growing_and_returns_the_same_targets(tmp_path):
    tokenizer, teacher, distiller = tiny_pair(tmp_path)
    batch = make_batch(tokenizer)

    def compute(b):
        return distiller.teacher_targets(teacher, b)

    unbounded = TeacherCache(tmp_path / "free", {"teacher": "tiny"}).targets(batch, compute)
    bounded = TeacherCache(tmp_path / "bounded", {"teacher": "tiny"}, max_bytes=1)
    first = bounded.targets({k: v[:1] for k, v in batch.items()}, compute)  # 0 < 1 byte: stored
    assert len(list(bounded.directory.glob("*.safetensors"))) == 1
    assert bounded.bytes > 0 and torch.equal(
        first[0][0][0], unbounded[0][0][0, : first[0][0].shape[1]]
    )
    again = bounded.targets(batch, compute)  # over the bound: computed, not stored
    assert len(list(bounded.directory.glob("*.safetensors"))) == 1
    for got, want in zip([*again[0], *again[1]], [*unbounded[0], *unbounded[1]], strict=True):
        assert torch.equal(got, want)
    lengths = batch["attention_mask"].sum(1).tolist()
    size = sum(
        p.stat().st_size
        for p in TeacherCache(tmp_path / "free", {"teacher": "tiny"}).directory.glob(
            "*.safetensors"
        )
    )
    config = teacher.config
    estimate = estimated_bytes(lengths, 3, config.num_attention_heads, config.hidden_size)
    assert size <= estimate


def test_an_embedding_only_stage_fills_the_cache_with_every_mapped_layer(tmp_path):
    """The cache is shared by every row on the same data and mapping, so "w/o Trm" (which
    reads only the embeddings) still stores each mapped layer for the rows after it."""
    teacher = make_masked_lm(tmp_path / "teacher", layers=6, hidden=32, heads=4, intermediate=64)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat is fun\nit was good\n\na dog\n\nhow can anyone drive such a car ?")
    command = f"general --teacher {teacher} --corpus {corpus} --student-preset cpu --without trm"
    command += f" --batch-size 2 --epochs 1 --teacher-cache {tmp_path / 'cache'}"
    main([*command.split(), "--output-dir", str(tmp_path / "run")])
    (stored, *_) = (tmp_path / "cache").glob("targets-*/*.safetensors")
    layers = 4  # the cpu student's embeddings and 3 layers, mapped to teacher layers 0, 2, 4, 6
    assert sorted(load_file(stored)) == sorted(
        [f"hidden.{k}" for k in range(layers)] + [f"scores.{k}" for k in range(layers - 1)]
    )
