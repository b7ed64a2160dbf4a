"""The typed API: one home per default, specs that render their command, typed results,
models loaded once per process, and a command line that answers without torch."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import augment.api
import augment.mlm.loading
from augment.api import FLAGS, AugmentError, AugmentResult, AugmentSpec
from augment.cli import _parser, parse_spec
from augment.settings import AugmentSettings

SST2 = "sentence\tlabel\nthe movie was unbelievable fun\t1\na boring plot and terrible actors\t0\n"


def test_command_line_defaults_are_the_spec_defaults():
    assert parse_spec(["--input", "a.tsv", "--output", "b.tsv"]) == AugmentSpec(
        Path("a.tsv"), Path("b.tsv")
    )


def test_paper_spelling_and_dashed_spelling_are_the_same_flags():
    paper = parse_spec(["--input", "a", "--output", "b", "--p_t", "0.3", "--n_a", "7"])
    dashed = parse_spec(["--input", "a", "--output", "b", "--p-t", "0.3", "--n-a", "7"])
    assert paper == dashed and paper.settings.p_t == 0.3 and paper.settings.n_a == 7


def test_every_flag_that_messages_name_exists():
    options = {option for action in _parser()._actions for option in action.option_strings}
    assert set(FLAGS.values()) <= options


def test_to_argv_renders_a_command_that_parses_back_to_the_same_spec():
    spec = AugmentSpec(
        Path("in.tsv"),
        Path("out.tsv"),
        task="mrpc",
        columns=("#1 String", 2),
        header=False,
        on_bad_row="skip",
        shard=(1, 3),
        settings=AugmentSettings(
            p_t=0.25,
            n_a=3,
            k=9,
            clean=not AugmentSettings().clean,
            paired_mlm_input=False,
            lowercase_output=True,
            max_seq_length=64,
        ),
        seed=5,
        mlm="embedded",
        glove="vectors.txt",
        glove_vocab=0,
        dtype="bfloat16",
        batch_size=16,
        chunk_size=10,
    )
    assert parse_spec(spec.to_argv()) == spec
    default = AugmentSpec(Path("in.tsv"), Path("out.tsv"))
    assert parse_spec(default.to_argv()) == default
    assert default.to_argv()[4:10] == ["--p_t", "0.4", "--n_a", "20", "--k", "15"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_a": 0}, "--n_a must be at least 1"),
        ({"p_t": -0.1}, "--p_t must be between 0 and 1"),
        ({"max_seq_length": 0}, "--max-seq-length must be at least 1"),
    ],
)
def test_spec_validation_raises_the_one_error_type(settings, message):
    spec = AugmentSpec(Path("a"), Path("b"), settings=AugmentSettings(**settings))
    with pytest.raises(AugmentError, match=message):
        augment.api.augment(spec)


def test_augment_returns_a_typed_result_and_loads_models_once(
    tiny_mlm_dir, tiny_glove_file, tmp_path, monkeypatch
):
    source = tmp_path / "train.tsv"
    source.write_text(SST2, encoding="utf-8")
    loads = []
    real = augment.mlm.loading.load_masked_lm

    def counting(*args, **kwargs):
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(augment.mlm.loading, "load_masked_lm", counting)
    augment.api._masked_lm.cache_clear()
    spec = AugmentSpec(
        source,
        tmp_path / "a.tsv",
        task="sst-2",
        mlm=str(tiny_mlm_dir),
        glove=str(tiny_glove_file),
        glove_vocab=0,
        settings=AugmentSettings(n_a=3, k=5),
    )
    first = augment.api.augment(spec)
    second = augment.api.augment(replace(spec, output=tmp_path / "b.tsv", seed=1))
    assert len(loads) == 1
    assert isinstance(first, AugmentResult) and first.output == tmp_path / "a.tsv"
    lines = first.output.read_text(encoding="utf-8").splitlines()
    assert first.input_lines == 2 and first.examples == 2
    assert first.output_lines == len(lines) - 1 == first.examples + first.augmented
    assert first.seconds > 0 and str(tiny_mlm_dir) in first.models
    assert second.output.read_bytes() != first.output.read_bytes()
    with pytest.raises(AugmentError, match="unknown task"):
        augment.api.augment(replace(spec, task="nope"))
    augment.api._masked_lm.cache_clear()


def test_help_and_flag_errors_do_not_import_torch():
    script = (
        "import sys; from augment.cli import main\n"
        "bad = ['--input', 'a', '--output', 'b', '--k', 'x']\n"
        "for argv in (['--help'], bad, ['merge', '-h']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_python_m_augment_help_and_a_flag_error_do_not_import_torch():
    """The real entry point (``augment/__main__.py``), timed by ``-X importtime``: no torch."""
    for argv, status in ((["--help"], 0), (["--input", "a", "--output", "b", "--k", "x"], 2)):
        command = [sys.executable, "-X", "importtime", "-m", "augment", *argv]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == status, result.stderr
        imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
        assert "augment.cli" in imported  # the check sees the package's imports
        assert not [name for name in imported if name.split(".")[0] in ("torch", "transformers")]
