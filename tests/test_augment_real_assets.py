"""Augmentation on the real assets: GLUE files, GloVe 6B-50d, NLTK data, real masked LMs."""

import zipfile

import pytest
from conftest import shared_asset

from augment.cli import main
from augment.formats import TsvFormat, read_lines, task_preset
from augment.glove import GloveNeighbours
from augment.stopwords import ENGLISH_STOPWORDS


def test_shipped_stopwords_equal_nltk_english_list():
    archive = shared_asset("nltk_data", "corpora", "stopwords.zip")
    with zipfile.ZipFile(archive) as stopwords:
        nltk_words = stopwords.read("stopwords/english").decode().split()
    assert set(nltk_words) == ENGLISH_STOPWORDS and len(nltk_words) == 179


@pytest.mark.parametrize(
    ("task", "file"),
    [
        ("CoLA", "train.tsv"),
        ("SST-2", "train.tsv"),
        ("MRPC", "train.tsv"),
        ("STS-B", "train.tsv"),
        ("RTE", "train.tsv"),
        ("WNLI", "train.tsv"),
        ("QNLI", "dev.tsv"),
    ],
)
def test_task_presets_parse_every_row_of_the_real_glue_files(task, file):
    path = shared_asset("glue", task, file)
    preset = task_preset(task)
    fmt = TsvFormat(path, preset.columns, preset.header)
    rows = 0
    for number, line in read_lines(path):
        if number == 1 and fmt.header_line(line) is not None:
            continue
        record = fmt.parse(number, line)
        assert all(text.strip() for text in record.texts)
        rows += 1
    assert rows > 50


def test_default_glove_is_the_400k_glove_6b_50d():
    glove = GloveNeighbours.load("default", k=15, clean=False, vocab_limit=None)
    assert len(glove.words) == 400_000 and glove.unit_vectors.shape == (400_000, 50)
    assert "car" in glove.neighbours(["truck"])["truck"]


def test_sst2_sample_with_the_real_masked_lm_and_glove(tmp_path):
    model = shared_asset("models", "minilm-wiki-mlm")
    source = tmp_path / "train.tsv"
    lines = shared_asset("glue", "SST-2", "train.tsv").read_text().splitlines()[:9]
    source.write_text("\n".join(lines) + "\n")
    output = tmp_path / "aug.tsv"
    code = main(
        [
            "--input",
            str(source),
            "--output",
            str(output),
            "--task",
            "sst-2",
            "--mlm",
            str(model),
            "--n_a",
            "5",
            "--k",
            "15",
        ]
    )
    assert code == 0
    written = output.read_text().splitlines()
    assert written[0] == "sentence\tlabel" and written[1] == lines[1]
    assert len(written) > len(lines)
