"""Every ``python -m distill`` command end to end on tiny models and tiny TSV fixtures."""

import json
from dataclasses import MISSING
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from tiny import make_masked_lm, make_tokenizer, tiny_config
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, BertModel

from distill import stages
from distill.cli import SPECS, build_parser, main, parse
from distill.experiments import EXPERIMENTS, TABLES
from distill.glue import TASKS
from distill.models import PROJECTIONS_FILE
from distill.stages import spec_fields, to_argv

GLUE = Path(__file__).resolve().parents[1].parent / "shared" / "assets" / "glue"
POSITIVE = ["a great fun movie", "i love this story", "a really good film", "funny and happy"]
NEGATIVE = ["a terrible boring movie", "i hate this plot", "a very bad film", "sad and slow"]
FAST = "--batch-size 4 --log-every 1 --seed 0"


def run(command: str) -> None:
    """Run the CLI in-process; paths under pytest's tmp dirs contain no spaces."""
    main(command.split())


def user_error(capsys, command: str) -> str:
    """The one-line message of a command that must fail as a user error (exit status 2)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run(command)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1, message
    return message


def write_rte(directory: Path) -> Path:
    """RTE-layout fixture: entailment when both sentences share the sentiment."""
    (directory / "RTE").mkdir(parents=True)
    rows = ["index\tsentence1\tsentence2\tlabel"]
    for i, (pos, neg) in enumerate(zip(POSITIVE * 2, NEGATIVE * 2, strict=True)):
        rows.append(f"{2 * i}\t{pos}\t{POSITIVE[i % 4]}\tentailment")
        rows.append(f"{2 * i + 1}\t{pos}\t{neg}\tnot_entailment")
    for split in ("train", "dev"):
        (directory / "RTE" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return directory


def write_corpus(path: Path) -> Path:
    path.write_text("\n\n".join(f"{p}\n{n}" for p, n in zip(POSITIVE, NEGATIVE, strict=True)))
    return path


def save_student(directory: Path, **config) -> Path:
    tokenizer = make_tokenizer(directory)
    torch.manual_seed(1)
    sizes = {"layers": 2, "hidden": 16, "heads": 4, "intermediate": 32, **config}
    BertModel(tiny_config(len(tokenizer), **sizes)).save_pretrained(directory)
    return directory


def read_log(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return {
        "root": root,
        "data": write_rte(root / "glue"),
        "bert": make_masked_lm(root / "bert", layers=4, hidden=32, heads=4, intermediate=64),
        "student": save_student(root / "student0"),
        "corpus": write_corpus(root / "corpus.txt"),
    }


@pytest.fixture(scope="module")
def teacher(ws):
    out = ws["root"] / "teacher"
    run(
        f"finetune --task rte --data-dir {ws['data']} --model {ws['bert']} --output-dir {out} "
        f"--epochs 2 {FAST}"
    )
    return out


def task_command(ws, teacher, out, extra: str = "") -> str:
    return (
        f"task --task rte --data-dir {ws['data']} --teacher {teacher} --student {ws['student']} "
        f"--output-dir {out} --stage1-epochs 1 --stage2-epochs 1 {FAST} {extra}"
    )


def test_finetune_writes_teacher_log_and_best(teacher):
    model = AutoModelForSequenceClassification.from_pretrained(teacher)
    assert model.config.id2label == {0: "entailment", 1: "not_entailment"}
    log = read_log(teacher)
    assert [r["step"] for r in log if r["stage"] == "finetune"] == list(range(1, 9))
    assert sum(r["stage"] == "eval" for r in log) == 2 and "dev/acc" in log[-1]
    assert json.loads((teacher / "best" / "selection.json").read_text())["dev/acc"] >= 0


def test_general_distillation(ws):
    out = ws["root"] / "general"
    run(
        f"general --teacher {ws['bert']} --student {ws['student']} --corpus {ws['corpus']} "
        f"--output-dir {out} --epochs 1 {FAST}"
    )
    assert AutoModel.from_pretrained(out).config.hidden_size == 16
    assert {"embd", "attn", "hidn", "loss"} <= set(read_log(out)[0])
    # projections are trained and checkpointed for resuming, but not part of the student
    with safe_open(out / "model.safetensors", "pt") as student:
        student_keys = list(student.keys())
    with safe_open(out / "checkpoint" / "model.safetensors", "pt") as checkpoint:
        checkpoint_keys = list(checkpoint.keys())
    assert not any("projections" in key for key in student_keys)
    # the paper's W_e and one W_h shared by the layers: weight and bias each
    assert sum(key.startswith("projections.maps.") for key in checkpoint_keys) == 2 * 2
    # saved beside the student, as the released checkpoints carry their fit_dense
    with safe_open(out / PROJECTIONS_FILE, "pt") as projections:
        assert sorted(projections.keys()) == [
            f"maps.{i}.{p}" for i in (0, 1) for p in ("bias", "weight")
        ]
        assert projections.metadata() == {"mode": "paper"}


def test_task_stage1_starts_from_the_general_projections(ws, teacher, monkeypatch):
    general = ws["root"] / "general-for-task"
    run(
        f"general --teacher {ws['bert']} --student {ws['student']} --corpus {ws['corpus']} "
        f"--output-dir {general} --epochs 1 {FAST}"
    )
    saved = load_file(general / PROJECTIONS_FILE)
    models = []
    monkeypatch.setattr(stages, "train", lambda config, model, *a, **k: models.append(model))
    run(
        f"task --task rte --data-dir {ws['data']} --teacher {teacher} --student {general} "
        f"--output-dir {ws['root'] / 'task-from-general'} {FAST}"
    )
    state = models[0].projections.state_dict()
    assert state.keys() == saved.keys()
    for key, value in saved.items():
        torch.testing.assert_close(state[key], value)
    # a student without the file (or --projection per-layer) starts from random maps
    models.clear()
    run(task_command(ws, teacher, ws["root"] / "task-no-projections"))
    assert not torch.equal(models[0].projections.maps[0].weight, saved["maps.0.weight"])


def test_task_distillation_and_evaluate(ws, teacher, capsys):
    augmented = ws["root"] / "augmented.tsv"
    augmented.write_text((ws["data"] / "RTE" / "train.tsv").read_text())
    out = ws["root"] / "task"
    run(task_command(ws, teacher, out, f"--augmented-train {augmented}"))
    stage1, stage2 = read_log(out / "stage1"), read_log(out / "stage2")
    assert {"embd", "attn", "hidn"} <= set(stage1[0])
    assert stage2[0]["stage"] == "stage2" and stage2[-1]["stage"] == "eval"
    capsys.readouterr()
    run(
        f"evaluate --task rte --data-dir {ws['data']} --model {out / 'stage2'} "
        f"--output {out / 'metrics.json'} --predictions {out / 'predictions.json'}"
    )
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"dev/acc"} and 0 <= printed["dev/acc"] <= 1
    assert json.loads((out / "metrics.json").read_text()) == printed
    labelled = json.loads((out / "predictions.json").read_text())["dev"]
    rows = (ws["data"] / "RTE" / "dev.tsv").read_text().splitlines()[1:]
    gold = [TASKS["rte"].labels.index(row.split("\t")[-1]) for row in rows]
    assert labelled["gold"] == gold  # file order, although evaluation batches by length
    hits = [p == g for p, g in zip(labelled["predicted"], labelled["gold"], strict=True)]
    assert sum(hits) / len(hits) == pytest.approx(printed["dev/acc"])


@pytest.mark.parametrize("name", ["no-gd", "no-td", "no-pred", "no-trm", "top"])
def test_ablations_run(ws, teacher, name):
    out = ws["root"] / f"ablation-{name}"
    extra = f"--experiment {name}"
    if name == "no-gd":  # random cpu preset: 12 heads and 3 layers vs the 4-head, 4-layer teacher
        extra += " --student-preset cpu --without attn --mapping bottom"
    run(task_command(ws, teacher, out, extra))
    assert (out / "stage1").is_dir() == (name != "no-td")
    if name == "no-trm":
        assert "embd" in read_log(out / "stage1")[0]
        assert "attn" not in read_log(out / "stage1")[0]
    if name == "no-gd":
        assert AutoModel.from_pretrained(out / "stage2").config.hidden_size == 192


def test_experiment_tables_are_valid_cli_flags():
    assert [e.label for e in TABLES["table3"]][0] == "w/o Embd"
    parser = build_parser()
    base = ["task", "--task", "rte", "--data-dir", "d", "--teacher", "t", "--output-dir", "o"]
    for experiment in EXPERIMENTS.values():
        args = parser.parse_args([*base, *experiment.flags()])
        assert args.mapping == experiment.mapping


def fake_intermediate_stage(seen: list, keep: str):
    """Stands in for stage 1: records one of its arguments, returns the student as is."""

    def stage(options, config, models, batches, tokenizer, mapping, data_id):
        seen.append(locals()[keep])
        return models[0]

    return stage


def test_per_task_defaults_apply(ws, teacher, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(stages, "train", lambda config, *a, **k: seen.append(config))
    monkeypatch.setattr(stages, "_intermediate_stage", fake_intermediate_stage(seen, "config"))
    base = f"task --task rte --data-dir {ws['data']} --teacher {teacher}"
    command = f"{base} --output-dir {ws['root'] / 'defaults'}"
    assert "--random-init" in user_error(capsys, command)
    run(f"{command} --student {ws['student']}")
    stage1, stage2 = seen
    assert (stage1.epochs, stage1.learning_rate, stage1.loop.batch_size) == (20, 5e-5, 32)
    assert (stage2.epochs, stage2.learning_rate) == (3, 3e-5)
    # released task_distill.py: schedule 'none' without --pred_distill, else warmup_linear
    assert (stage1.lr_schedule, stage2.lr_schedule) == ("constant", "linear")
    seen.clear()
    run(
        f"{base} --output-dir {ws['root'] / 'given'} --random-init --stage1-epochs 2 "
        "--stage2-lr 1e-4"
    )
    assert (seen[0].epochs, seen[1].learning_rate) == (2, 1e-4)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("--teacher /nonexistent/teacher", "not a model folder"),
        ("--teacher bert-base-uncased", "unreachable"),
        ("--student /nonexistent/student", "student checkpoint"),
        ("--task squad", "unknown GLUE task"),
        ("--batch-size 0", "--batch-size: 0 is out of range"),
        ("--stage2-lr -1", "--stage2-lr: -1 is out of range"),
        ("--warmup 1.5", "--warmup: 1.5 is out of range"),
        ("--mapping 1,x", "neither a strategy"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(ws, teacher, capsys, monkeypatch, extra, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = ws["root"] / "bad"
    assert message in user_error(capsys, task_command(ws, teacher, out, extra))
    assert not out.exists() or extra.startswith("--mapping")  # numbers: refused before any work


def test_head_mismatch_with_attention_loss(ws, teacher, capsys):
    student = save_student(ws["root"] / "student2heads", heads=2)
    command = task_command(ws, teacher, ws["root"] / "mismatch", f"--student {student}")
    assert "equal head counts" in user_error(capsys, command)
    run(f"{command} --without attn")  # fine once the attention loss is off


def test_malformed_training_file(ws, teacher, capsys):
    bad = ws["root"] / "bad.tsv"
    bad.write_text("index\tsentence1\tsentence2\tlabel\n0\ta\n")
    command = task_command(ws, teacher, ws["root"] / "badrun", f"--augmented-train {bad}")
    assert "bad.tsv:2: expected 4 tab-separated fields" in user_error(capsys, command)


STSB_HEADER = (
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
)


def stsb_rows(firsts: list[str], seconds: list[str]) -> list[str]:
    return [
        f"{i}\tg\tf\ty\t0\tn\tn\t{p}\t{n}\t{i % 5}.0"
        for i, (p, n) in enumerate(zip(firsts, seconds, strict=True))
    ]


def write_stsb(directory: Path) -> Path:
    """STS-B-layout fixture: train = dev, scores 0.0 to 3.0."""
    (directory / "STS-B").mkdir(parents=True)
    for split in ("train", "dev"):
        text = "\n".join([STSB_HEADER, *stsb_rows(POSITIVE, NEGATIVE)]) + "\n"
        (directory / "STS-B" / f"{split}.tsv").write_text(text)
    return directory


def test_regression_and_mnli_tasks(ws, capsys):
    write_stsb(ws["root"] / "glue2")
    mnli = ws["root"] / "glue2" / "MNLI"
    mnli.mkdir(parents=True)
    header = "index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tlabel1\tgold_label"
    labels = ["contradiction", "entailment", "neutral", "entailment"]
    rows = [
        f"{i}\t1\t1\tg\t{p}\t{n}\tx\t{label}"
        for i, (p, n, label) in enumerate(zip(POSITIVE, NEGATIVE, labels, strict=True))
    ]
    for split in ("train", "dev_matched", "dev_mismatched"):
        (mnli / f"{split}.tsv").write_text("\n".join([header, *rows]) + "\n")
    data = ws["root"] / "glue2"
    for task in ("sts-b", "mnli"):
        out = ws["root"] / f"ft-{task}"
        run(
            f"finetune --task {task} --data-dir {data} --model {ws['bert']} --output-dir {out} "
            f"--epochs 1 {FAST}"
        )
        capsys.readouterr()
        predictions = out / "predictions.json"
        run(f"evaluate --task {task} --data-dir {data} --model {out} --predictions {predictions}")
        metrics = json.loads(capsys.readouterr().out)
        expected = (
            {"dev/pearson", "dev/spearman"}
            if task == "sts-b"
            else {"dev_matched/acc", "dev_mismatched/acc"}
        )
        assert set(metrics) == expected
        labelled = json.loads(predictions.read_text())
        assert set(labelled) == {key.split("/")[0] for key in expected}
        kinds = {type(value) for split in labelled.values() for value in split["predicted"]}
        assert kinds == ({float} if task == "sts-b" else {int})  # scores, or class indices


@pytest.mark.skipif(not GLUE.is_dir(), reason=f"GLUE data not found at {GLUE}")
def test_evaluate_on_real_cola_dev(teacher, capsys, tmp_path):
    """The real CoLA dev file (no header, no trailing newline) through the whole evaluate path."""
    model = AutoModelForSequenceClassification.from_pretrained(teacher)  # 2 labels, as CoLA
    model.config.id2label, model.config.label2id = {0: "0", 1: "1"}, {"0": 0, "1": 1}
    model.save_pretrained(tmp_path)
    make_tokenizer(tmp_path)
    capsys.readouterr()
    run(f"evaluate --task cola --data-dir {GLUE} --model {tmp_path} --split dev")
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) == {"dev/mcc"} and -1 <= metrics["dev/mcc"] <= 1


def test_readme_quick_start_commands_parse_and_name_real_paths():
    """The README's first distillation commands run as printed on a fresh clone (they were
    run so); here: each parses, and every input path they name exists beside the project."""
    import re
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("# Runs as printed on a machine without a model hub")
    block = re.sub(r"\\\n\s*", " ", readme[start : readme.index("```", start)])
    commands = [line for line in block.splitlines() if line.startswith("python -m distill ")]
    assert [shlex.split(c)[3] for c in commands] == ["finetune", "general", "task", "evaluate"]
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command)[3:])
        for name in ("data_dir", "corpus"):
            path = getattr(args, name, None)
            if path is not None and GLUE.is_dir():
                assert (Path(__file__).resolve().parents[1] / path).exists(), path
    assert {shlex.split(c)[shlex.split(c).index("--model") + 1] for c in commands[:1]} == {"minilm"}


def test_teacher_cache_size_is_shown_and_bounded(ws, teacher, capsys):
    cache = ws["root"] / "bounded-cache"
    run(
        task_command(ws, teacher, ws["root"] / "bounded", f"--teacher-cache {cache}")
        + " --teacher-cache-max-gb 0.000001"  # 1,000 bytes: reached by the first batch
    )
    err = capsys.readouterr().err
    assert "teacher cache: this stage's targets take up to" in err and "bounded at" in err
    stored = [p for p in cache.rglob("*.safetensors") if p.parent.name.startswith("targets-")]
    assert len(stored) == 4  # one file an example: the first batch of 4 reaches the bound


def test_stsb_stage2_fits_gold_scores_on_the_original_training_set(ws, monkeypatch):
    """Paper footnote 5 / the released regression branch: STS-B's prediction stage is MSE
    to the gold score on the original training set, even with an augmented file."""
    data = write_stsb(ws["root"] / "glue-stsb")
    teacher = ws["root"] / "ft-stsb"
    run(
        f"finetune --task sts-b --data-dir {data} --model {ws['bert']} --output-dir {teacher} "
        f"--epochs 1 {FAST}"
    )
    augmented = ws["root"] / "stsb-augmented.tsv"
    rows = stsb_rows(POSITIVE * 3, NEGATIVE * 3)
    augmented.write_text("\n".join([STSB_HEADER, *rows]) + "\n")
    seen = {}
    monkeypatch.setattr(stages, "_intermediate_stage", fake_intermediate_stage([], "config"))
    monkeypatch.setattr(
        stages, "train", lambda config, student, step, batches, *a, **k: seen.update(locals())
    )
    run(
        f"task --task sts-b --data-dir {data} --teacher {teacher} --student {ws['student']} "
        f"--output-dir {ws['root'] / 'stsb-task'} --augmented-train {augmented} {FAST}"
    )
    dataset = seen["batches"].dataset
    assert [f["labels"] for f in dataset] == [float(i % 5) for i in range(len(POSITIVE))]
    assert seen["k"]["frozen"] == []  # no teacher in stage 2
    batch = stages.collator(AutoTokenizer.from_pretrained(teacher))(
        [dataset[i] for i in range(len(dataset))]
    )
    student = seen["student"]
    expected = torch.nn.functional.mse_loss(
        student(**{k: v for k, v in batch.items() if k not in ("labels", "index")}).logits[:, 0],
        batch["labels"].float(),
    )
    torch.testing.assert_close(seen["step"](student, batch)["loss"], expected)


def test_official_padding_pads_training_batches_to_the_task_length(ws, teacher, monkeypatch):
    collators = []
    monkeypatch.setattr(stages, "train", lambda *a, **k: None)
    monkeypatch.setattr(
        stages, "_intermediate_stage", fake_intermediate_stage(collators, "batches")
    )
    for padding in ("official", "masked"):
        run(task_command(ws, teacher, ws["root"] / f"pad-{padding}", f"--padding {padding}"))
    tokenizer = AutoTokenizer.from_pretrained(teacher)
    features = [{"input_ids": tokenizer("a great fun movie")["input_ids"]}]
    official, masked = (b.collate(features)["input_ids"].shape[1] for b in collators)
    assert official == 128 and masked == len(features[0]["input_ids"])  # RTE: pairs, 128


def test_flag_defaults_are_the_spec_defaults():
    """Each default is written once, in the spec: every flag of a command is a field of its
    spec with that field's default (or required when the field has none), and back."""
    commands = build_parser()._subparsers._group_actions[0].choices
    for command, spec_type in SPECS.items():
        known = spec_fields(spec_type)
        actions = [a for a in commands[command]._actions if a.dest not in ("help", "experiment")]
        assert {a.dest for a in actions} == set(known), command
        for action in actions:
            default = known[action.dest].default
            if default is MISSING:
                assert action.required, action.dest
            else:
                given = (
                    tuple(action.default) if isinstance(action.default, list) else action.default
                )
                assert given == default, (command, action.dest)


@pytest.mark.parametrize(
    "argv",
    [
        "task --task rte --data-dir g --teacher t --output-dir o --experiment no-trm "
        "--layer-weights 1,0.5 --seed 3 --report-to tensorboard --stage1-epochs 2",
        "task --task cola --data-dir g --teacher t --output-dir o --random-init --mapping 2,4",
        "general --teacher t --corpus c.txt --output-dir o --max-lines 5 --without attn",
        "finetune --task mrpc --data-dir g --model minilm --output-dir o --epochs 1.5",
        "evaluate --task mnli --data-dir g --model m --split dev_matched --split dev_mismatched",
    ],
)
def test_a_spec_renders_the_command_that_parses_back_to_it(argv):
    spec, _ = parse(argv.split())
    assert parse(to_argv(spec))[0] == spec


def test_an_experiment_is_the_default_of_its_flags_and_explicit_flags_win():
    spec, _ = parse(
        ["task", "--task", "rte", "--data-dir", "g", "--teacher", "t", "--output-dir", "o"]
    )
    for experiment in (e for rows in TABLES.values() for e in rows):
        from_flag, _ = parse(to_argv(spec) + ["--experiment", experiment.name])
        assert from_flag == experiment.apply(spec)
    top_then_bottom = to_argv(spec) + ["--experiment", "top", "--mapping", "bottom"]
    assert parse(top_then_bottom)[0].distill.mapping == "bottom"


def test_task_data_from_csv_and_parquet_trains_exactly_as_from_glue_tsv(ws, teacher, capsys):
    """Issue 18: the same examples in other formats (renamed columns, no --data-dir) give
    the same training, step for step, and the same dev metrics."""
    import pandas as pd

    frame = pd.read_csv(ws["data"] / "RTE" / "train.tsv", sep="\t")
    frame = frame.rename(columns={"sentence1": "premise", "sentence2": "hypothesis"})
    frame.to_csv(ws["root"] / "rte-train.csv", index=False)
    frame.to_parquet(ws["root"] / "rte-dev.parquet")
    glue, other = ws["root"] / "from-tsv", ws["root"] / "from-csv"
    run(task_command(ws, teacher, glue))
    command = task_command(ws, teacher, other).replace(f"--data-dir {ws['data']} ", "")
    run(
        f"{command} --train-file {ws['root'] / 'rte-train.csv'} "
        f"--dev-file {ws['root'] / 'rte-dev.parquet'} --text-columns premise,hypothesis"
    )
    for stage in ("stage1", "stage2"):
        assert read_log(other / stage) == read_log(glue / stage)
    capsys.readouterr()
    dev = ws["root"] / "rte-dev.parquet"
    run(
        f"evaluate --task rte --model {other / 'stage2'} --dev-file {dev} "
        "--text-columns premise,hypothesis"
    )
    last_eval = read_log(glue / "stage2")[-1]
    assert json.loads(capsys.readouterr().out) == {"dev/acc": last_eval["dev/acc"]}


def test_a_task_without_data_is_one_line(ws, teacher, capsys):
    command = task_command(ws, teacher, ws["root"] / "nodata").replace(
        f"--data-dir {ws['data']} ", ""
    )
    assert "--data-dir (GLUE's layout) or --train-file" in user_error(capsys, command)


def test_every_distill_command_in_the_readme_parses_into_a_spec():
    """A README command whose flags drifted from the specs fails here, not for a user."""
    import re
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    text = re.sub(r"\\\n\s*", " ", readme)
    commands = [
        shlex.split(line.split("#")[0])[3:]
        for line in text.splitlines()
        if re.match(r"python -m distill (finetune|general|task|evaluate) ", line)
    ]
    placeholder = re.compile(r"^[A-Z][A-Z_]*$")  # a value to fill in, e.g. --lr LR
    commands = [argv for argv in commands if not any(placeholder.match(a) for a in argv)]
    assert len(commands) >= 6
    for argv in commands:
        spec, _ = parse(argv)
        assert parse(to_argv(spec))[0] == spec
