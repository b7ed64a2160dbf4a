"""Packing the general-distillation corpus into sequences."""

import pytest
from tiny import make_tokenizer

from augment.documents import read_documents
from distill.corpus import pack_corpus


def test_documents_split_on_blank_lines(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("a dog\nthe cat\n\n\nit is fun\n")
    assert list(read_documents(path)) == [["a dog", "the cat"], ["it is fun"]]
    assert list(read_documents(path, max_lines=1)) == [["a dog"]]
    with pytest.raises(FileNotFoundError, match="corpus not found"):
        list(read_documents(tmp_path / "missing.txt"))


def test_packing_fills_sequences_within_documents(tmp_path):
    tokenizer = make_tokenizer(tmp_path)
    path = tmp_path / "corpus.txt"
    sentence = "the cat is fun"  # 4 pieces
    path.write_text(f"{sentence}\n{sentence}\n{sentence}\n\n{sentence}\n\n{' '.join(['dog'] * 20)}")
    features = pack_corpus(path, tokenizer, max_length=10)
    lengths = [len(f["input_ids"]) for f in features]
    # budget 8 pieces: two sentences, then one; the next document starts afresh;
    # the 20-piece sentence is truncated to the budget
    assert lengths == [10, 6, 6, 10]
    assert [f["index"] for f in features] == [0, 1, 2, 3]
    first = features[0]["input_ids"]
    assert first[0] == tokenizer.cls_token_id and first[-1] == tokenizer.sep_token_id
    assert tokenizer.decode(first[1:-1]) == f"{sentence} {sentence}"
