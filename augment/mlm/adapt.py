"""Masked-LM adaptation of a BERT-family encoder: train a head (and more) on a corpus.

Why: Algorithm 1 needs masked-LM predictions, but sentence encoders such as
all-MiniLM-L6-v2 ship without a masked-LM head. This trains a fresh head (decoder tied to
the word embeddings) and optionally the top ``train_layers`` encoder layers and the
encoder's biases and LayerNorms (BitFit, Ben Zaken et al. 2022), computing logits only at
masked positions. Only the trained weights are saved, in fp16, so the result is a few MB or
less that load on top of the original encoder.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm
from transformers import BertForMaskedLM, get_linear_schedule_with_warmup
from transformers import PreTrainedTokenizerBase as Tokenizer

from augment.mlm.corpus import encode_segments, mask_batch, split_documents

logger = logging.getLogger(__name__)


@dataclass
class AdaptConfig:
    """Every choice that shapes the adapted weights; saved beside them as the recipe."""

    encoder: str
    corpus: str
    train_layers: int = 2
    train_biases: bool = False
    steps: int = 2000
    batch_size: int = 32
    lr_head: float = 1e-3
    lr_encoder: float = 2e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    min_words: int = 40
    max_pieces: int = 64
    held_out_every: int = 50
    eval_segments: int = 600
    seed: int = 0
    checkpoint_every: int = 100


def trainable_parameter_names(
    model: BertForMaskedLM, train_layers: int, train_biases: bool = False
) -> list[str]:
    """Names of the head's own weights, of the top ``train_layers`` encoder layers and, with
    ``train_biases``, of every bias and LayerNorm weight of the encoder: a few thousand
    numbers a layer that adapt all of it (BitFit)."""
    total = model.config.num_hidden_layers
    if not 0 <= train_layers <= total:
        raise ValueError(f"train_layers must be in 0..{total}, got {train_layers}")
    top = tuple(f"bert.encoder.layer.{index}." for index in range(total - train_layers, total))
    return [
        name
        for name, _ in model.named_parameters()
        if name.startswith("cls.predictions.transform.")
        or name == "cls.predictions.bias"
        or name.startswith(top)
        or (train_biases and name.startswith("bert.") and _is_bias_or_norm(name))
    ]


def _is_bias_or_norm(name: str) -> bool:
    return name.endswith(".bias") or ".LayerNorm." in name


def masked_logits(model: BertForMaskedLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits at masked positions only (in reading order): no vocabulary matmul elsewhere."""
    hidden = model.bert(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    return model.cls(hidden[batch["labels"] != -100])


@torch.inference_mode()
def masked_accuracy(
    model: BertForMaskedLM,
    tokenizer: Tokenizer,
    segments: list[list[int]],
    seed: int,
    batch_size: int = 64,
    top_k: tuple[int, ...] = (1, 15),
) -> dict[str, float]:
    """Top-k accuracy on masked pieces of ``segments``; ``seed`` fixes the masks across models."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    hits = dict.fromkeys(top_k, 0)
    total = 0
    for start in range(0, len(segments), batch_size):
        batch = mask_batch(segments[start : start + batch_size], tokenizer, generator)
        targets = batch["labels"][batch["labels"] != -100]
        best = masked_logits(model, batch).topk(max(top_k), dim=-1).indices
        for k in top_k:
            hits[k] += (best[:, :k] == targets[:, None]).any(dim=1).sum().item()
        total += len(targets)
    return {f"top{k}": hits[k] / total for k in top_k} | {"masked_pieces": total}


def _checkpoint_path(output: Path) -> Path:
    return output.with_suffix(".checkpoint.pt")


def adapt(
    model: BertForMaskedLM, tokenizer: Tokenizer, config: AdaptConfig, output: Path
) -> dict[str, float]:
    """Train, evaluate on held-out documents, and save the trained weights to ``output``.

    ``output`` is a ``.safetensors`` file; the recipe and quality go to the ``.json``
    beside it. A checkpoint every ``checkpoint_every`` steps (weights, optimizer, schedule
    and random state) lets an interrupted run resume on the same loss curve.
    """
    torch.manual_seed(config.seed)
    train_docs, held_out_docs = split_documents(Path(config.corpus), config.held_out_every)
    segments = encode_segments(train_docs, tokenizer, config.min_words, config.max_pieces)
    held_out = encode_segments(held_out_docs, tokenizer, config.min_words, config.max_pieces)
    held_out = random.Random(config.seed).sample(held_out, min(config.eval_segments, len(held_out)))
    random.Random(config.seed).shuffle(segments)
    logger.info("%d training segments, %d held-out segments", len(segments), len(held_out))

    names = set(trainable_parameter_names(model, config.train_layers, config.train_biases))
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name in names
    head = [p for n, p in model.named_parameters() if n in names and n.startswith("cls.")]
    encoder = [p for n, p in model.named_parameters() if n in names and n.startswith("bert.")]
    optimizer = torch.optim.AdamW(
        [{"params": head, "lr": config.lr_head}, {"params": encoder, "lr": config.lr_encoder}],
        weight_decay=config.weight_decay,
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, math.ceil(config.warmup_fraction * config.steps), config.steps
    )
    step = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = _checkpoint_path(output)
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != asdict(config):
            raise ValueError(f"{checkpoint}: made with another configuration; delete it to restart")
        model.load_state_dict(state["trainable"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        torch.set_rng_state(state["rng"])
        logger.info("resuming from step %d", step)

    started = time.time()
    model.train()
    progress = tqdm(total=config.steps, initial=step, desc="mlm adapt", unit="step")
    while step < config.steps:
        start = (step * config.batch_size) % max(1, len(segments) - config.batch_size)
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        batch = mask_batch(segments[start : start + config.batch_size], tokenizer, generator)
        logits = masked_logits(model, batch)
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"][batch["labels"] != -100])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head + encoder, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        progress.update()
        progress.set_postfix(loss=f"{loss.item():.3f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            trainable = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
            state = {
                "config": asdict(config),
                "trainable": trainable,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "rng": torch.get_rng_state(),
            }
            torch.save(state, checkpoint.with_suffix(".tmp"))
            checkpoint.with_suffix(".tmp").replace(checkpoint)
            model.train()
    progress.close()

    quality = masked_accuracy(model, tokenizer, held_out, seed=config.seed)
    weights = {n: p.detach().half().contiguous() for n, p in model.named_parameters() if n in names}
    save_file(weights, str(output.with_suffix(".tmp")))
    output.with_suffix(".tmp").replace(output)
    recipe = asdict(config) | {
        "quality": quality,
        "wall_time_s": round(time.time() - started, 1),
        "parameters_saved": sum(w.numel() for w in weights.values()),
    }
    output.with_suffix(".json").write_text(json.dumps(recipe, indent=2) + "\n", encoding="utf-8")
    checkpoint.unlink()
    return quality
