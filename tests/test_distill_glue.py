"""GLUE readers, label order, batching and metrics; real files when ../shared is present."""

from pathlib import Path

import numpy as np
import pytest
from tiny import make_tokenizer

from distill.glue import (
    TASKS,
    GlueDataset,
    LengthBucketSampler,
    check_label_order,
    collator,
    data_file,
    get_task,
    read_tsv,
)
from distill.metrics import compute_metrics

GLUE = Path(__file__).resolve().parents[1].parent / "shared" / "assets" / "glue"

FIXTURES = {
    "cola": ("", ["gj04\t1\t\tthe cat is fun .", "gj04\t0\t*\tcat the fun is"]),
    "sst-2": ("sentence\tlabel", ["a great movie \t1", "boring \t0"]),
    "mrpc": (
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String",
        ['1\t1\t2\the said " yes\tshe said yes', "0\t3\t4\ta\tb"],
    ),
    "sts-b": (
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        ["0\tg\tf\ty\t0\tn\tn\ta man\ta woman\t3.500"],
    ),
    "qqp": ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", ["0\t1\t2\thow ?\twhy ?\t0"]),
    "mnli": (
        "index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tlabel1\tgold_label",
        ["0\t1\t2\tg\tit is\tit was\tneutral\tneutral", "1\t1\t2\tg\ta\tb\tentailment\tentailment"],
    ),
    "qnli": ("index\tquestion\tsentence\tlabel", ["0\twho ?\the .\tnot_entailment"]),
    "rte": ("index\tsentence1\tsentence2\tlabel", ["0\ta\tb\tentailment"]),
    "wnli": ("index\tsentence1\tsentence2\tlabel", ["0\ta\tb\t1"]),
}


def write_fixture(path: Path, name: str, trailing_newline: bool = True) -> Path:
    header, rows = FIXTURES[name]
    lines = ([header] if header else []) + rows
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_readers(tmp_path, name):
    task = get_task(name)
    examples = read_tsv(task, write_fixture(tmp_path / "train.tsv", name, trailing_newline=False))
    assert len(examples) == len(FIXTURES[name][1])
    assert len(examples[0].texts) == len(task.text_columns)


def test_specific_fields(tmp_path):
    mrpc = read_tsv(get_task("mrpc"), write_fixture(tmp_path / "m.tsv", "mrpc"))
    assert mrpc[0].texts == ('he said " yes', "she said yes") and mrpc[0].label == 1
    cola = read_tsv(get_task("CoLA"), write_fixture(tmp_path / "c.tsv", "cola"))
    assert cola[1].texts == ("cat the fun is",) and cola[1].label == 0
    stsb = read_tsv(get_task("sts-b"), write_fixture(tmp_path / "s.tsv", "sts-b"))
    assert stsb[0].label == pytest.approx(3.5)
    mnli = read_tsv(get_task("mnli"), write_fixture(tmp_path / "n.tsv", "mnli"))
    assert [e.label for e in mnli] == [2, 1]


def test_malformed_row_names_file_and_line(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly two\n")
    with pytest.raises(ValueError, match=r"train.tsv:3: expected 4"):
        read_tsv(get_task("rte"), path)
    path.write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tstray\ttab\tentailment\n")
    with pytest.raises(ValueError, match=r"train.tsv:2: expected 4 tab-separated fields, got 5"):
        read_tsv(get_task("rte"), path)
    path.write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n")
    with pytest.raises(ValueError, match=r"train.tsv:2: label 'maybe'"):
        read_tsv(get_task("rte"), path)
    with pytest.raises(FileNotFoundError):
        read_tsv(get_task("rte"), tmp_path / "missing.tsv")


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown GLUE task"):
        get_task("squad")


def test_label_order_check():
    mnli = get_task("mnli")
    check_label_order(mnli, {0: "contradiction", 1: "entailment", 2: "neutral"})
    check_label_order(mnli, {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(ValueError, match="label order"):
        check_label_order(mnli, {0: "entailment", 1: "neutral", 2: "contradiction"})


def test_dataset_dynamic_padding_and_buckets(tmp_path):
    tokenizer = make_tokenizer(tmp_path)
    path = tmp_path / "train.tsv"
    rows = ["sentence\tlabel"] + [f"{' '.join(['fun'] * n)}\t{n % 2}" for n in range(1, 21)]
    path.write_text("\n".join(rows) + "\n")
    data = GlueDataset(read_tsv(get_task("sst-2"), path), tokenizer, max_length=8)
    assert max(data.lengths) == 8
    sampler = LengthBucketSampler(data.lengths, batch_size=4, seed=1)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(20))
    assert first == list(sampler)  # same epoch, same order
    sampler.set_epoch(1)
    assert first != list(sampler)
    batch = collator(tokenizer)([data[i] for i in first[0]])
    spread = max(data.lengths[i] for i in first[0]) - min(data.lengths[i] for i in first[0])
    assert batch["input_ids"].shape == (4, max(data.lengths[i] for i in first[0]))
    assert spread <= 4  # window-sorted batches hold similar lengths


def test_metrics():
    logits = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = np.array([1, 0, 0, 1])
    assert compute_metrics(get_task("mrpc"), logits, labels) == pytest.approx(
        {"acc": 0.75, "f1": 0.8}
    )
    assert compute_metrics(get_task("cola"), logits, labels)["mcc"] == pytest.approx(
        0.5773502691896258
    )
    stsb = compute_metrics(
        get_task("sts-b"), np.array([[1.0], [2.0], [4.0]]), np.array([1, 2, 3.0])
    )
    assert stsb["spearman"] == pytest.approx(1.0) and stsb["pearson"] < 1.0


ROWS = {
    "CoLA": 1043,
    "MRPC": 408,
    "SST-2": 872,
    "RTE": 277,
    "STS-B": 1500,
    "WNLI": 71,
    "QNLI": 5463,
}


@pytest.mark.skipif(not GLUE.is_dir(), reason=f"GLUE data not found at {GLUE}")
@pytest.mark.parametrize("name", sorted(ROWS))
def test_real_dev_files(name):
    task = next(t for t in TASKS.values() if t.directory == name)
    examples = read_tsv(task, data_file(GLUE, task, "dev"))
    assert len(examples) == ROWS[name]
