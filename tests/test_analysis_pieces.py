"""The table of shared pieces, read from the records the runner writes."""

from __future__ import annotations

import json

from analysis.pieces import main, pieces_table
from distill.experiments.layout import augment_name, parse_augment_name


def write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_every_piece_with_its_result_in_our_task_order(tmp_path, capsys):
    sentence = {"model": "minilm", "metrics": {"dev/acc": 0.767, "dev/f1": 0.846}}
    masked = {"model": "../shared/assets/models/minilm-wiki-mlm", "metrics": {"dev/f1": 0.822}}
    write(
        tmp_path / "teachers/mrpc.json",
        {"task": "mrpc", **sentence, "candidates": [sentence, masked]},
    )
    write(tmp_path / "teachers/cola.json", {"task": "cola", "model": "m", "metrics": {"mcc": 0.3}})
    log = {"loss": 3.08, "embd": 0.13, "attn": 2.52, "hidn": 0.43}
    write(tmp_path / "general.json", {"examples": 33381, "final_log": log})
    write(tmp_path / "general-without-trm.json", {"final_log": {"loss": 0.5, "embd": 0.5}})
    for name in ("cola", "mrpc-n_a-x4", "mrpc"):
        write(tmp_path / f"augment/{name}.json", {"input_lines": 3669, "output_lines": 18126})

    table = pieces_table(tmp_path)["result"]
    assert list(table.index) == [
        "MRPC teacher from minilm (kept)",
        "MRPC teacher from minilm-wiki-mlm",
        "CoLA teacher from m",
        "general distillation",
        "general distillation (without trm)",
        "augmentation MRPC",
        "augmentation MRPC (N_a x4)",
        "augmentation CoLA",
    ]
    assert table["MRPC teacher from minilm (kept)"] == "dev F1 84.6, acc 76.7"  # F1 first
    assert table["CoLA teacher from m"] == "dev MCC 30.0"
    assert table["general distillation"] == (
        "final loss 3.08 (embd 0.13, attn 2.52, hidn 0.43); 33,381 sequences of the corpus"
    )
    assert table["augmentation MRPC (N_a x4)"] == "3,669 lines -> 18,126 lines"

    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- pieces:begin -->\nold\n<!-- pieces:end -->\nafter\n")
    main([str(tmp_path), "--update", str(readme)])
    assert "| augmentation CoLA | 3,669 lines -> 18,126 lines |" in capsys.readouterr().out
    assert "old" not in readme.read_text() and "| general distillation |" in readme.read_text()


def test_augment_names_parse_back():
    for task, scale in (("mrpc", 1), ("sst-2", 4)):
        assert parse_augment_name(augment_name(task, scale)) == (task, scale)
