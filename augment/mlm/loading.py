"""Resolve ``--mlm`` to a masked LM and its tokenizer.

``auto`` prefers a cached ``bert-base-uncased`` (the paper's model) and falls back to the
embedded default; ``embedded`` forces the default; anything else is a hub name or a local
Hugging Face folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForMaskedLM, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer
from transformers.utils import logging as transformers_logging

from augment.settings import AugmentError

logger = logging.getLogger(__name__)

PAPER_MLM = "bert-base-uncased"
EMBEDDED_DELTA = (
    Path(__file__).resolve().parent.parent / "data" / "minilm_wiki_mlm_delta.safetensors"
)


class MaskedLMError(AugmentError, RuntimeError):
    """A masked LM could not be loaded; the message says which and why."""


@dataclass
class LoadedMaskedLM:
    """A masked LM ready for inference, with the text that says which one it is."""

    model: PreTrainedModel
    tokenizer: Tokenizer
    description: str


def minilm_encoder_path() -> Path:
    """Folder of the pip-installed all-MiniLM-L6-v2 encoder (extracted once to the user cache).

    The package prints a banner to stdout when imported (and a line when it extracts); kept
    out of stdout, so that ``$(python -c ...)`` captures the path alone and commands print
    only their own output.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        import all_minilm_l6_v2

        return Path(all_minilm_l6_v2.get_model_path())


def build_masked_lm_on_encoder(encoder: str | Path) -> BertForMaskedLM:
    """A ``BertForMaskedLM`` whose encoder is ``encoder`` and whose head is freshly initialised.

    The decoder stays tied to the word embeddings, so a trained head needs only its
    transform and output bias.
    """
    # A sentence encoder has no masked-LM head, so transformers' load report would list the
    # head as missing (and call the checkpoint "corrupted"); check the missing keys here
    # instead and keep the log quiet.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        model, info = BertForMaskedLM.from_pretrained(
            str(encoder), dtype=torch.float32, output_loading_info=True
        )
    finally:
        transformers_logging.set_verbosity(verbosity)
    missing = [key for key in info["missing_keys"] if not key.startswith("cls.predictions.")]
    if missing:
        raise MaskedLMError(f"{encoder}: encoder weights missing from the checkpoint: {missing}")
    if model.cls.predictions.decoder.weight is not model.bert.embeddings.word_embeddings.weight:
        raise MaskedLMError(f"{encoder}: the masked-LM decoder is not tied to the word embeddings")
    return model


def load_adapted(delta_file: Path, encoder: Path) -> LoadedMaskedLM:
    """``encoder`` with the weights saved by :func:`augment.mlm.adapt.adapt` laid over it."""
    if not delta_file.is_file():
        raise MaskedLMError(f"{delta_file}: the adapted masked-LM weights are missing")
    model = build_masked_lm_on_encoder(encoder)
    delta = {name: tensor.float() for name, tensor in load_file(str(delta_file)).items()}
    missing = set(delta) - set(model.state_dict())
    if missing:
        raise MaskedLMError(f"{delta_file}: weights not in the MiniLM masked LM: {sorted(missing)}")
    head = {
        name
        for name, _ in model.named_parameters()
        if name.startswith("cls.predictions.transform.") or name == "cls.predictions.bias"
    }
    absent = sorted(head - set(delta))
    if absent:
        raise MaskedLMError(f"{delta_file}: masked-LM head weights absent: {absent}")
    model.load_state_dict(delta, strict=False)
    recipe = json.loads(delta_file.with_suffix(".json").read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(str(encoder))
    parts = ["masked-LM head"]
    if recipe["train_layers"]:
        parts.append(f"top {recipe['train_layers']} layers")
    if recipe.get("train_biases"):
        parts.append("every bias and LayerNorm")
    description = (
        f"{encoder} + {', '.join(parts)} adapted on "
        f"{Path(recipe['corpus']).name} (held-out top-1 {recipe['quality']['top1']:.1%}, "
        f"top-15 {recipe['quality']['top15']:.1%})"
    )
    return LoadedMaskedLM(model.eval(), tokenizer, description)


def _load_embedded() -> LoadedMaskedLM:
    """The embedded default: the pip-installed MiniLM encoder with the shipped weights."""
    loaded = load_adapted(EMBEDDED_DELTA, minilm_encoder_path())
    loaded.description = f"embedded default: {loaded.description}"
    return loaded


def _load_pretrained(name_or_path: str, local_only: bool = False) -> LoadedMaskedLM:
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=local_only)
        model = AutoModelForMaskedLM.from_pretrained(
            name_or_path, dtype=torch.float32, local_files_only=local_only
        )
    except (OSError, ValueError) as error:
        raise MaskedLMError(f"cannot load masked LM {name_or_path!r}: {error}") from error
    return LoadedMaskedLM(model.eval(), tokenizer, f"{name_or_path} ({type(model).__name__})")


def load_masked_lm(spec: str, device: str = "cpu") -> LoadedMaskedLM:
    """Load ``spec`` (``auto``, ``embedded``, a hub name or a local folder) onto ``device``."""
    if spec == "auto":
        try:
            loaded = _load_pretrained(PAPER_MLM, local_only=True)
        except MaskedLMError:
            loaded = _load_embedded()
    elif spec == "embedded":
        loaded = _load_embedded()
    else:
        path = Path(spec)
        if (spec.startswith((".", "/")) or path.exists()) and not (path / "config.json").is_file():
            raise MaskedLMError(f"{spec}: not a Hugging Face model folder (no config.json)")
        loaded = _load_pretrained(spec)
    loaded.model.to(device)
    logger.info("masked LM: %s", loaded.description)
    return loaded
