"""Teacher targets cached on disk, so repeated epochs and runs skip the teacher forward.

Stage 1 passes over the same (augmented) data 10-20 times and the teacher forward is most
of a step's cost on CPU, yet the frozen teacher's outputs never change. Each example's
mapped hidden states and attention scores are stored once, trimmed to its real length,
in fp16 (one safetensors file per example, named by its dataset index). Sizes add up:
about ``2 * L * (layers * heads * L + (layers + 1) * hidden)`` bytes per example of
length ``L`` -- roughly 0.6 MB for a 70-piece RTE pair with the MiniLM teacher.

Trimming drops padded positions, which is exact for the default ``"masked"`` padding
mode but not for ``"official"`` (it reads padded query rows), so the CLI refuses that
combination. Batches must be right-padded, as BERT tokenizers do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

Targets = tuple[list[torch.Tensor], list[torch.Tensor]]


class TeacherCache:
    """``targets(batch, compute)`` loads cached examples, computes and stores the rest.

    ``fingerprint`` describes what the cache was built from (teacher, data, mapping...);
    reusing a directory with a different fingerprint is an error, not a silent mix.
    """

    def __init__(self, directory: str | Path, fingerprint: dict):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = self.directory / "meta.json"
        fingerprint = json.loads(json.dumps(fingerprint, default=str))
        if meta.is_file():
            stored = json.loads(meta.read_text())
            if stored != fingerprint:
                raise ValueError(
                    f"teacher cache {self.directory} was built for {stored}, not {fingerprint}; "
                    "use another directory"
                )
        else:  # write-then-rename: other processes never read a half-written file
            partial_meta = meta.with_suffix(f".{os.getpid()}.partial")
            partial_meta.write_text(json.dumps(fingerprint, indent=2))
            partial_meta.replace(meta)

    def _path(self, index: int) -> Path:
        return self.directory / f"{index:09d}.safetensors"

    def targets(
        self, batch: dict[str, torch.Tensor], compute: Callable[[dict], Targets]
    ) -> Targets:
        indices = batch["index"].tolist()
        if not all(self._path(i).is_file() for i in indices):
            hidden, scores = compute(batch)
            self._store(indices, batch["attention_mask"], hidden, scores)
            return hidden, scores
        return self._load(indices, batch["attention_mask"])

    def _store(self, indices, mask, hidden, scores) -> None:
        for row, index in enumerate(indices):
            n = int(mask[row].sum())
            tensors = {f"hidden.{k}": h[row, :n] for k, h in enumerate(hidden)}
            tensors |= {f"scores.{k}": s[row, :, :n, :n] for k, s in enumerate(scores)}
            tensors = {k: v.to("cpu", torch.float16).contiguous() for k, v in tensors.items()}
            save_file(tensors, self._path(index))

    def _load(self, indices, mask) -> Targets:
        length, device = mask.shape[1], mask.device
        examples = [load_file(self._path(i)) for i in indices]
        layers = sum(key.startswith("hidden.") for key in examples[0])

        def stacked(name: str, pad: Callable[[torch.Tensor], tuple[int, ...]]) -> torch.Tensor:
            rows = [F.pad(e[name].float(), pad(e[name])) for e in examples]
            return torch.stack(rows).to(device)

        hidden = [
            stacked(f"hidden.{k}", lambda t: (0, 0, 0, length - t.shape[0])) for k in range(layers)
        ]
        scores = [
            stacked(f"scores.{k}", lambda t: (0, length - t.shape[-1], 0, length - t.shape[-1]))
            for k in range(layers - 1)
        ]
        return hidden, scores
