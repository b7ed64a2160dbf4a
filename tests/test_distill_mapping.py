"""Layer mapping strategies g(m), their errors, and the adaptive (CKA-chosen) mapping."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import make_tokenizer, tiny_config
from transformers import BertForSequenceClassification, BertModel

import distill.adaptive_mapping as adaptive
from distill import cli, stages
from distill.adaptive_mapping import LinearCka, adaptive_mapping, choose_mapping, sample_indices
from distill.glue import collator
from distill.mapping import (
    ADAPTIVE,
    best_monotone_mapping,
    layer_mapping,
    linear_cka,
    parse_mapping,
)


def test_paper_strategies_for_bert_base_to_tinybert4():
    assert layer_mapping("uniform", 4, 12) == [0, 3, 6, 9, 12]
    assert layer_mapping("top", 4, 12) == [0, 9, 10, 11, 12]
    assert layer_mapping("bottom", 4, 12) == [0, 1, 2, 3, 4]


def test_explicit_mapping_gets_embedding_entry():
    assert layer_mapping([2, 5, 8, 12], 4, 12) == [0, 2, 5, 8, 12]
    assert layer_mapping(parse_mapping("2,4,6"), 3, 6) == [0, 2, 4, 6]


@pytest.mark.parametrize(
    ("strategy", "student", "teacher", "message"),
    [
        ([3, 6, 9], 4, 12, "has 3 entries"),
        ([0, 3, 6, 9], 4, 12, "1..12"),
        ([3, 6, 9, 13], 4, 12, "1..12"),
        ([3, 9, 6, 12], 4, 12, "strictly increasing"),
        ("uniform", 4, 6, "multiple"),
        ("uniform", 8, 6, "only 6"),
        ("middle", 4, 12, "unknown mapping"),
    ],
)
def test_bad_mappings_raise(strategy, student, teacher, message):
    with pytest.raises(ValueError, match=message):
        layer_mapping(strategy, student, teacher)


def test_parse_mapping_rejects_garbage():
    assert parse_mapping("top") == "top"
    with pytest.raises(ValueError, match="neither"):
        parse_mapping("3,six")


# --- adaptive mapping (``--mapping adaptive``) ---------------------------------------------

SENTENCES = [
    "a great fun movie",
    "i love this story",
    "a really good film",
    "funny and happy",
    "a terrible boring movie",
    "i hate this plot",
    "a very bad film",
    "sad and slow",
    "how can anyone drive such a small car ?",
    "the old red truck was not very fast",
    "unbelievable film .",
    "she played with the dog and the cat",
]


def test_adaptive_is_a_cli_value_but_not_a_fixed_strategy():
    assert parse_mapping("adaptive") == ADAPTIVE
    with pytest.raises(ValueError, match="chosen from the models and data"):
        layer_mapping(ADAPTIVE, 4, 12)


def test_best_monotone_mapping_beats_greedy_on_a_hand_made_matrix():
    # Row by row argmax would take teacher layer 3 twice; the best strictly increasing
    # choice gives student layer 1 layer 2 (0.8) so that layer 2 can keep layer 3 (0.9).
    similarity = np.array(
        [
            [0.1, 0.8, 0.85, 0.2],
            [0.0, 0.1, 0.90, 0.3],
        ]
    )
    assert best_monotone_mapping(similarity) == [1, 2]
    # ... unless the later layer has a good enough alternative further right
    similarity[1, 3] = 0.88
    assert best_monotone_mapping(similarity) == [2, 3]


@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (4, 12), (6, 6)])
def test_best_monotone_mapping_is_strictly_increasing_with_one_entry_per_row(shape):
    rng = np.random.default_rng(1)
    for _ in range(10):
        mapping = best_monotone_mapping(rng.uniform(size=shape))
        assert len(mapping) == shape[0]
        assert all(0 <= n < shape[1] for n in mapping)
        assert all(b > a for a, b in zip(mapping, mapping[1:], strict=False))


def test_streaming_cka_matches_linear_cka_over_all_rows():
    rng = np.random.default_rng(0)
    # offsets far from zero test the centring; two student and three teacher "layers"
    batches = [
        (
            [rng.normal(5.0, 1.0, size=(rows, 6)) for _ in range(2)],
            [rng.normal(-3.0, 2.0, size=(rows, 9)) for _ in range(3)],
        )
        for rows in (7, 11, 4)
    ]
    cka = LinearCka()
    for student, teacher in batches:
        cka.update([torch.tensor(x) for x in student], [torch.tensor(y) for y in teacher])
    student = [np.concatenate([b[0][m] for b in batches]) for m in range(2)]
    teacher = [np.concatenate([b[1][n] for b in batches]) for n in range(3)]
    expected = np.array([[linear_cka(x, y) for y in teacher] for x in student])
    np.testing.assert_allclose(cka.matrix(), expected, rtol=1e-5, atol=1e-6)
    assert cka.count == 22


def test_sample_indices_are_seeded_distinct_and_sorted():
    first = sample_indices(1000, 256, seed=3)
    assert first == sample_indices(1000, 256, seed=3) != sample_indices(1000, 256, seed=4)
    assert len(set(first)) == 256 and first == sorted(first) and max(first) < 1000
    assert sample_indices(5, 256, seed=0) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="at least 1"):
        sample_indices(5, 0, seed=0)


def _features(tokenizer) -> list[dict]:
    encoded = tokenizer(SENTENCES)
    return [{k: v[i] for k, v in encoded.items()} for i in range(len(SENTENCES))]


def _identity_layer(layer) -> None:
    """Zero both residual branches: the layer then only re-normalises its (normalised) input."""
    for dense in (layer.attention.output.dense, layer.output.dense):
        torch.nn.init.zeros_(dense.weight)
        torch.nn.init.zeros_(dense.bias)


@pytest.mark.parametrize(
    ("identity", "copied"),
    [
        (None, [1, 2]),  # the teacher's first two layers: the bottom mapping
        (1, [2, 3]),  # teacher layer 1 passes its input on, so layers 2 and 3 come first
    ],
)
def test_a_copy_of_teacher_layers_gets_exactly_those_layers(tmp_path, identity, copied):
    tokenizer = make_tokenizer(tmp_path)
    torch.manual_seed(0)
    # a wide initialisation makes the random layers change the representation a lot
    config = tiny_config(len(tokenizer), layers=5, initializer_range=0.5)
    teacher = BertModel(config).eval()
    if identity is not None:
        _identity_layer(teacher.encoder.layer[identity - 1])
    student = BertModel(tiny_config(len(tokenizer), layers=2, initializer_range=0.5))
    student.embeddings.load_state_dict(teacher.embeddings.state_dict())
    for m, n in enumerate(copied):
        student.encoder.layer[m].load_state_dict(teacher.encoder.layer[n - 1].state_dict())
    record = choose_mapping(
        student, teacher, _features(tokenizer), collator(tokenizer), sample=8, seed=0
    )
    assert record["mapping"] == [0, *copied]
    matrix = np.array(record["cka"])
    assert matrix.shape == (2, 5)
    np.testing.assert_allclose(matrix[[0, 1], [n - 1 for n in copied]], 1.0, atol=1e-5)
    assert len(record["examples"]) == 8 and record["tokens"] > 8
    assert student.training  # the mode it came in with


def test_adaptive_mapping_saves_then_reuses(tmp_path, monkeypatch, capsys):
    tokenizer = make_tokenizer(tmp_path)
    torch.manual_seed(0)
    teacher = BertModel(tiny_config(len(tokenizer), layers=4))
    student = BertModel(tiny_config(len(tokenizer), layers=2, hidden=16))
    data, collate = _features(tokenizer), collator(tokenizer)
    path = tmp_path / "run" / "mapping.json"
    mapping = adaptive_mapping(path, student, teacher, data, collate, 6, 0, 4, {"stage": "x"})
    record = json.loads(path.read_text())
    assert record["mapping"] == mapping and len(mapping) == 3 and mapping[0] == 0
    assert record["stage"] == "x" and record["sample"] == 6 and len(record["examples"]) == 6
    printed = capsys.readouterr().out
    assert "adaptive layer mapping" in printed and "student \\ teacher" in printed

    def no_measuring(*args, **kwargs):
        raise AssertionError("a saved mapping must be reused, not measured again")

    monkeypatch.setattr(adaptive, "choose_mapping", no_measuring)
    assert adaptive_mapping(path, student, teacher, data, collate, 6, 0, 4, {"stage": "x"}) == (
        mapping
    )
    assert adaptive_mapping(path, student, teacher, data, collate, 9, 0, 4) == mapping
    assert "other settings (sample: 6 then, 9 now)" in capsys.readouterr().out
    deeper = BertModel(tiny_config(len(tokenizer), layers=3, hidden=16))
    with pytest.raises(ValueError, match="2 student and 4 teacher layers"):
        adaptive_mapping(path, deeper, teacher, data, collate)
    record["mapping"] = [0, 3, 2]
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="strictly increasing"):
        adaptive_mapping(path, student, teacher, data, collate)


# --- ``python -m distill task/general --mapping adaptive`` end to end --------------------

FAST = "--batch-size 4 --log-every 1 --seed 0"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """RTE-layout data, a 4-layer teacher with a classifier, a 2-layer "GD" student."""
    root = tmp_path_factory.mktemp("adaptive")
    (root / "glue" / "RTE").mkdir(parents=True)
    rows = ["index\tsentence1\tsentence2\tlabel"]
    for i in range(16):
        first, second = SENTENCES[i % 8], SENTENCES[(3 * i + 1) % 12]
        label = "entailment" if (i % 8 < 4) == ((3 * i + 1) % 12 % 8 < 4) else "not_entailment"
        rows.append(f"{i}\t{first}\t{second}\t{label}")
    for split in ("train", "dev"):
        (root / "glue" / "RTE" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    teacher, student = root / "teacher", root / "student"
    tokenizer = make_tokenizer(teacher)
    torch.manual_seed(0)
    labels = {"id2label": {0: "entailment", 1: "not_entailment"}}
    labels["label2id"] = {v: k for k, v in labels["id2label"].items()}
    BertForSequenceClassification(
        tiny_config(len(tokenizer), layers=4, num_labels=2, **labels)
    ).save_pretrained(teacher)
    make_tokenizer(student)
    BertModel(tiny_config(len(tokenizer), layers=2, hidden=16)).save_pretrained(student)
    (root / "corpus.txt").write_text("\n".join(SENTENCES[:6]) + "\n\n" + "\n".join(SENTENCES[6:]))
    return {"root": root, "data": root / "glue", "teacher": teacher, "student": student}


def task_command(ws, out: Path, extra: str = "") -> list[str]:
    return (
        f"task --task rte --data-dir {ws['data']} --teacher {ws['teacher']} "
        f"--student {ws['student']} --output-dir {out} --stage1-epochs 1 --stage2-epochs 1 "
        f"--mapping adaptive --adaptive-sample 8 {FAST} {extra}"
    ).split()


def test_task_with_adaptive_mapping_end_to_end(ws, capsys):
    out = ws["root"] / "task"
    cli.main(task_command(ws, out))
    record = json.loads((out / "mapping.json").read_text())
    mapping = record["mapping"]
    assert len(mapping) == 3 and mapping[0] == 0 and 1 <= mapping[1] < mapping[2] <= 4
    assert np.array(record["cka"]).shape == (2, 4)
    assert record["sample"] == 8 and len(record["examples"]) == 8 and record["seed"] == 0
    assert (record["stage"], record["student"]) == ("stage1", str(ws["student"]))
    assert (out / "stage1" / "config.json").is_file() and (out / "stage2" / "config.json").is_file()
    printed = capsys.readouterr().out
    assert f"g(0..M) = {mapping}" in printed


def test_resumed_task_run_reuses_the_saved_mapping(ws, monkeypatch, capsys):
    out = ws["root"] / "resumed"
    cli.main(task_command(ws, out, "--stop-after 1"))
    path = out / "mapping.json"
    record = json.loads(path.read_text())
    assert (out / "stage1" / "checkpoint" / "progress.json").is_file()
    assert not (out / "stage1" / "config.json").is_file()
    # Make the saved mapping differ from what measuring again would give, then resume:
    # the stage must go on with the saved one and never measure.
    other = [0, 1, 2] if record["mapping"] != [0, 1, 2] else [0, 3, 4]
    path.write_text(json.dumps({**record, "mapping": other}))
    used = []

    class Spy(stages.IntermediateDistiller):
        def __init__(self, student, teacher, mapping, *args):
            used.append(list(mapping))
            super().__init__(student, teacher, mapping, *args)

    def no_measuring(*args, **kwargs):
        raise AssertionError("a resumed run must not measure a new mapping")

    monkeypatch.setattr(stages, "IntermediateDistiller", Spy)
    monkeypatch.setattr(adaptive, "choose_mapping", no_measuring)
    capsys.readouterr()
    cli.main(task_command(ws, out))
    assert used == [other]
    printed = capsys.readouterr().out
    assert re.search(r"reusing the adaptive mapping \[0, \d, \d\]", printed)
    assert "resuming from" in printed
    assert (out / "stage2" / "config.json").is_file()


def test_general_with_adaptive_mapping_and_a_random_student(ws, capsys):
    out = ws["root"] / "general"
    cli.main(
        f"general --teacher {ws['teacher']} --corpus {ws['root'] / 'corpus.txt'} "
        f"--output-dir {out} --epochs 1 --student-preset cpu --without attn "
        f"--mapping adaptive --adaptive-sample 4 {FAST}".split()
    )
    record = json.loads((out / "mapping.json").read_text())
    assert len(record["mapping"]) == 4 and record["student"] == "random"  # the cpu preset: 3
    assert record["stage"] == "general"
    assert "student is randomly initialised" in capsys.readouterr().out
