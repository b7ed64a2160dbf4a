"""Teacher outputs cached on disk, so repeated epochs and runs skip the teacher forward.

Stage 1 passes over the same (augmented) data many times and the teacher forward is most
of a step's cost on CPU, yet the frozen teacher's outputs never change. Two caches live
under one root folder (``--teacher-cache``), each in a subfolder named by a hash of what
it was built from (teacher, data, mapping...), so runs that share a teacher and data
share the cache and runs that differ never mix:

* :class:`TeacherCache` -- stage 1: each example's mapped hidden states and attention
  scores, trimmed to its real length, in fp16 (one safetensors file per example, named by
  its dataset index). About ``2 * L * (layers * heads * L + (layers + 1) * hidden)``
  bytes per example of length ``L`` -- roughly 0.6 MB for a 70-piece RTE pair with the
  MiniLM teacher.
* :func:`cached_logits` -- stage 2: the teacher's logits for the whole training set, one
  small file computed in one inference pass.

Trimming drops padded positions, which is exact for the default ``"masked"`` padding
mode but not for ``"official"`` (it reads padded query rows), so the CLI refuses that
combination. Batches must be right-padded, as BERT tokenizers do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from safetensors.torch import load, load_file, save_file
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from augment.atomic import write_json_atomically
from distill.glue import LengthBucketSampler

Targets = tuple[list[torch.Tensor], list[torch.Tensor]]


def cache_folder(root: str | Path, kind: str, fingerprint: dict) -> Path:
    """``root/<kind>-<hash>``, holding ``meta.json`` with the fingerprint it was built from."""
    fingerprint = json.loads(json.dumps(fingerprint, default=str, sort_keys=True))
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(root) / f"{kind}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "meta.json"
    if not meta.is_file():
        write_json_atomically(meta, fingerprint)
    return folder


WEIGHT_FILES = ("*.safetensors", "*.bin")


def model_id(model: str | Path) -> str | list:
    """What identifies a teacher in a fingerprint: a local folder's path with each weights
    file's name, size and modification time, so a teacher fine-tuned again in the same
    folder gets a new cache instead of its predecessor's targets; a hub name as given."""
    folder = Path(model)
    weights = sorted(path for pattern in WEIGHT_FILES for path in folder.glob(pattern))
    if not weights:
        return str(model)
    stamps = [[path.name, path.stat().st_size, path.stat().st_mtime_ns] for path in weights]
    return [str(folder.resolve()), *stamps]


FILE_OVERHEAD = 4096  # safetensors header and the file system's block rounding, at most


def estimated_bytes(lengths: Sequence[int], layers: int, heads: int, width: int) -> int:
    """Disk size of a full stage-1 cache: per example of length ``L``, fp16 hidden states at
    ``layers`` mapped layers (embeddings included) and scores at ``layers - 1``; an upper
    bound, so that a run can show it, and refuse or bound it, before filling."""
    per_token = 2 * layers * width
    return sum(2 * (layers - 1) * heads * n * n + per_token * n + FILE_OVERHEAD for n in lengths)


class TeacherCache:
    """``targets(batch, compute)`` loads cached examples, computes and stores the rest.

    ``fingerprint`` describes what the targets are built from (teacher, data, mapping...).
    With ``max_bytes`` the cache (``root``, every fingerprint's folder together) stops
    growing at that size (counted from what it holds when opened plus what this process
    writes): examples beyond it are computed on every
    use and rounded exactly as the cache would store them, so results do not change.
    """

    def __init__(self, root: str | Path, fingerprint: dict, max_bytes: int | None = None):
        self.directory = cache_folder(root, "targets", fingerprint)
        self.max_bytes = max_bytes
        self.bytes = (  # the whole cache: every run's targets share one bound
            sum(p.stat().st_size for p in Path(root).rglob("*.safetensors"))
            if max_bytes is not None
            else 0
        )

    def _path(self, index: int) -> Path:
        return self.directory / f"{index:09d}.safetensors"

    def targets(
        self, batch: dict[str, torch.Tensor], compute: Callable[[dict], Targets]
    ) -> Targets:
        indices = batch["index"].tolist()
        if not all(self._path(i).is_file() for i in indices):
            hidden, scores = compute(batch)
            if self.max_bytes is not None and self.bytes >= self.max_bytes:
                return _as_stored(batch["attention_mask"], hidden, scores)
            self._store(indices, batch["attention_mask"], hidden, scores)
        # Always what the cache holds (fp16, zero padding), also right after computing it:
        # a run must not depend on whether it was the first to need these targets.
        return self._load(indices, batch["attention_mask"])

    def _store(self, indices, mask, hidden, scores) -> None:
        for row, index in enumerate(indices):
            n = int(mask[row].sum())
            tensors = {f"hidden.{k}": h[row, :n] for k, h in enumerate(hidden)}
            tensors |= {f"scores.{k}": s[row, :, :n, :n] for k, s in enumerate(scores)}
            tensors = {k: v.to("cpu", torch.float16).contiguous() for k, v in tensors.items()}
            partial = self._path(index).with_suffix(f".{os.getpid()}.partial")
            save_file(tensors, partial)
            self.bytes += partial.stat().st_size
            partial.replace(self._path(index))  # an interrupted write never looks finished

    def _load(self, indices, mask) -> Targets:
        """Each file read whole and parsed from memory, its fp16 tensors copied (and widened)
        straight into zeroed batch tensors: one pass instead of widen, pad and stack copies
        (``benchmarks/ab_distill.py``)."""
        batch, length = len(indices), mask.shape[1]
        examples = [load(self._path(i).read_bytes()) for i in indices]
        layers = sum(key.startswith("hidden.") for key in examples[0])
        width, heads = examples[0]["hidden.0"].shape[-1], examples[0]["scores.0"].shape[0]
        hidden = [torch.zeros(batch, length, width) for _ in range(layers)]
        scores = [torch.zeros(batch, heads, length, length) for _ in range(layers - 1)]
        for row, example in enumerate(examples):
            for k, target in enumerate(hidden):
                values = example[f"hidden.{k}"]
                target[row, : values.shape[0]].copy_(values)
            for k, target in enumerate(scores):
                values = example[f"scores.{k}"]
                target[row, :, : values.shape[-1], : values.shape[-1]].copy_(values)
        device = mask.device
        return [h.to(device) for h in hidden], [a.to(device) for a in scores]


def _as_stored(mask: torch.Tensor, hidden, scores) -> Targets:
    """What the cache would return for these targets: fp16 values, zeros at padding."""
    tokens = mask.bool()[:, :, None]
    pairs = mask.bool()[:, None, :, None] & mask.bool()[:, None, None, :]

    def rounded(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return torch.where(keep, values.half().float(), 0.0)

    return [rounded(h, tokens) for h in hidden], [rounded(a, pairs) for a in scores]


@torch.no_grad()
def cached_logits(
    root: str | Path,
    fingerprint: dict,
    logits_of: Callable[[dict], torch.Tensor],
    dataset: Dataset,
    collate: Callable,
    batch_size: int = 128,
) -> torch.Tensor:
    """The teacher's logits for every example of ``dataset`` (row = dataset index).

    Computed once, by ``logits_of(batch)``, and stored in fp32 (logits are tiny); later
    calls with the same fingerprint only read the file.
    """
    path = cache_folder(root, "logits", fingerprint) / "logits.safetensors"
    if path.is_file():
        return load_file(path)["logits"]
    rows: list[torch.Tensor] = []
    indices: list[torch.Tensor] = []
    lengths = [len(dataset[i]["input_ids"]) for i in range(len(dataset))]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=False)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    for batch in tqdm(loader, desc="teacher logits", unit="batch"):  # minutes on a big set
        rows.append(logits_of(batch).float().cpu())
        indices.append(batch["index"])
    logits = torch.empty(len(dataset), rows[0].shape[-1])
    logits[torch.cat(indices)] = torch.cat(rows)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    save_file({"logits": logits}, partial)
    partial.replace(path)
    return logits
