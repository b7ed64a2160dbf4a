"""``--mapping adaptive``: choose the layer mapping from the models and the data.

The paper fixes ``g(m)`` by hand (uniform, top, bottom; Table 4) and leaves an adaptive
choice to future work. Here, before an intermediate stage (general distillation or task
stage 1) starts, the student *as it starts the stage* and the teacher both run on a fixed,
seeded sample of the stage's training data; the linear CKA between every (student layer,
teacher layer) pair of hidden states, over all real (non-padded) tokens of the sample,
gives an ``(M, N)`` similarity matrix, and :func:`distill.mapping.best_monotone_mapping`
picks the strictly increasing mapping with the largest total similarity. The embeddings
still map 0 -> 0. The choice is made once and kept for the whole stage.

What the choice means depends on the starting student:

* **Task distillation from a general-distilled student** (the intended use). The GD
  student's layers already learned to imitate the pre-trained teacher's layers, so the
  matrix says which layer of the *fine-tuned* teacher each student layer resembles now;
  the adaptive mapping is the one that asks the student to move its representations the
  least. That is a "path of least resistance" choice, not a promise of the best accuracy:
  it often reproduces the GD mapping and is worth comparing with ``uniform`` (Table 4).
* **A randomly initialised student** (general distillation from scratch, ``--random-init``).
  Its hidden states are random functions of random embeddings: what CKA then picks up is
  mostly which tokens are the same (the inputs are shared), so the choice drifts towards
  the teacher layers closest to token identity -- the lowest ones, i.e. towards ``bottom``,
  the worst mapping of Table 4. The option still runs (and says so), but for a random
  student a fixed strategy is the better default.

The chosen mapping, the matrix and the sample are saved to ``<output_dir>/mapping.json``;
a rerun (resume) with that file present reuses it instead of measuring again, so a resumed
stage keeps the mapping its checkpoint was trained with even if the student or the flags
changed in between. Delete the file (or use a new output folder) to choose again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from accelerate import PartialState
from transformers import PreTrainedModel

from augment.atomic import write_json_atomically
from distill.distiller import model_inputs
from distill.mapping import best_monotone_mapping, layer_mapping

MAPPING_FILE = "mapping.json"
SIMILARITY = "linear CKA of hidden states over real (non-padded) tokens"


class LinearCka:
    """Streaming linear CKA of every (student layer, teacher layer) pair of token rows.

    Accumulates feature-space statistics batch by batch -- sums, ``X^T X`` per student
    layer, ``Y^T Y`` per teacher layer and ``X^T Y`` for every pair, in float64 -- so that
    the tokens never have to be held at once (256 sequences of 128 tokens through a 12-layer
    768-wide teacher would be 1.3 GB). Rows are shifted by the first batch's means before
    the products, which keeps the centring in :meth:`matrix` free of cancellation.
    """

    def __init__(self) -> None:
        self.count = 0

    def update(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> None:
        """``student[m]`` is ``(tokens, p)`` and ``teacher[n]`` ``(tokens, q)``, same rows."""
        x = torch.stack([h.detach().float() for h in student])  # (M, T, p)
        y = torch.stack([h.detach().float() for h in teacher])  # (N, T, q)
        (layers_x, tokens, width_x), (layers_y, _, width_y) = x.shape, y.shape
        if self.count == 0:
            self.shift_x, self.shift_y = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
            options = {"dtype": torch.float64, "device": x.device}
            self.sum_x = torch.zeros(layers_x, width_x, **options)
            self.sum_y = torch.zeros(layers_y, width_y, **options)
            self.xx = torch.zeros(layers_x, width_x, width_x, **options)
            self.yy = torch.zeros(layers_y, width_y, width_y, **options)
            self.xy = torch.zeros(layers_x * width_x, layers_y * width_y, **options)
        x, y = x - self.shift_x, y - self.shift_y
        self.count += tokens
        self.sum_x += x.sum(1)
        self.sum_y += y.sum(1)
        self.xx += x.transpose(1, 2) @ x
        self.yy += y.transpose(1, 2) @ y
        # every pair in one matmul: (T, M*p)^T @ (T, N*q)
        self.xy += x.transpose(0, 1).reshape(tokens, -1).T @ y.transpose(0, 1).reshape(tokens, -1)

    def matrix(self) -> np.ndarray:
        """Linear CKA, ``(M, N)``; 0 where a layer's representation is constant."""
        if self.count < 2:
            raise ValueError("linear CKA needs at least two token rows")
        n = self.count
        mean_x, mean_y = self.sum_x / n, self.sum_y / n
        norm_x = torch.linalg.matrix_norm(self.xx - n * mean_x[:, :, None] * mean_x[:, None])
        norm_y = torch.linalg.matrix_norm(self.yy - n * mean_y[:, :, None] * mean_y[:, None])
        layers_x, width_x = mean_x.shape
        layers_y, width_y = mean_y.shape
        xy = self.xy.view(layers_x, width_x, layers_y, width_y)
        cka = torch.zeros(layers_x, layers_y, dtype=torch.float64)
        for m in range(layers_x):  # one student layer at a time keeps the temporaries small
            cross = xy[m] - n * mean_x[m][:, None, None] * mean_y[None]  # (p, N, q)
            numerator = cross.square().sum(dim=(0, 2)).cpu()
            denominator = (norm_x[m] * norm_y).cpu()
            cka[m] = torch.where(denominator > 0, numerator / denominator, 0.0)
        return cka.numpy()


def sample_indices(size: int, sample: int, seed: int) -> list[int]:
    """A fixed, seeded sample of ``sample`` of ``range(size)``, sorted; all if fewer."""
    if sample < 1:
        raise ValueError(f"the adaptive mapping needs a sample of at least 1, not {sample}")
    if size <= sample:
        return list(range(size))
    return sorted(np.random.default_rng(seed).choice(size, sample, replace=False).tolist())


@torch.no_grad()
def hidden_cka_matrix(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    dataset: Sequence[dict],
    indices: Sequence[int],
    collate: Callable[[list[dict]], dict[str, torch.Tensor]],
    batch_size: int = 32,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, int]:
    """CKA of student layers 1..M against teacher layers 1..N on ``dataset[indices]``.

    Returns the ``(M, N)`` matrix and the number of tokens it was measured on. Both models
    run in eval mode (no dropout) and get their previous mode back. Examples are batched
    in order of length so that padding adds little work; padded positions are dropped.
    """
    device = torch.device(device) if device is not None else next(student.parameters()).device
    order = sorted(indices, key=lambda i: len(dataset[i]["input_ids"]))
    modes = [(model, model.training) for model in (student, teacher)]
    student.eval()
    teacher.eval()
    cka = LinearCka()
    try:
        for start in range(0, len(order), batch_size):
            batch = collate([dataset[i] for i in order[start : start + batch_size]])
            inputs = {k: v.to(device) for k, v in model_inputs(batch).items()}
            real = inputs["attention_mask"].bool()
            student_hidden = student.base_model(**inputs, output_hidden_states=True).hidden_states
            teacher_hidden = teacher.base_model(**inputs, output_hidden_states=True).hidden_states
            cka.update([h[real] for h in student_hidden[1:]], [h[real] for h in teacher_hidden[1:]])
    finally:
        for model, mode in modes:
            model.train(mode)
    return cka.matrix(), cka.count


def choose_mapping(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    dataset: Sequence[dict],
    collate: Callable[[list[dict]], dict[str, torch.Tensor]],
    sample: int = 256,
    seed: int = 0,
    batch_size: int = 32,
    device: torch.device | str | None = None,
) -> dict:
    """Measure the CKA matrix on a seeded sample and pick the best monotone mapping.

    Returns the record saved as ``mapping.json``: ``mapping`` (``[0, g(1), ..., g(M)]``,
    1-based teacher layers), ``cka`` (rows: student layers 1..M, columns: teacher layers
    1..N), the layer counts, the sample (requested size, seed, example indices) and the
    number of tokens measured.
    """
    student_layers = student.config.num_hidden_layers
    teacher_layers = teacher.config.num_hidden_layers
    if student_layers > teacher_layers:
        raise ValueError(
            f"student has {student_layers} layers but teacher only {teacher_layers}: "
            "each student layer needs its own teacher layer"
        )
    indices = sample_indices(len(dataset), sample, seed)
    matrix, tokens = hidden_cka_matrix(
        student, teacher, dataset, indices, collate, batch_size, device
    )
    layers = [n + 1 for n in best_monotone_mapping(matrix)]
    return {
        "mapping": [0, *layers],
        "similarity": SIMILARITY,
        "cka": np.round(matrix, 6).tolist(),
        "total_cka": round(float(matrix[range(student_layers), [n - 1 for n in layers]].sum()), 6),
        "student_layers": student_layers,
        "teacher_layers": teacher_layers,
        "sample": sample,
        "seed": seed,
        "tokens": tokens,
        "examples": indices,
    }


def format_record(record: dict) -> str:
    """The mapping and the CKA matrix as text; ``*`` marks the chosen pairs."""
    matrix = np.asarray(record["cka"])
    chosen = record["mapping"][1:]
    lines = [
        f"adaptive layer mapping g(0..M) = {record['mapping']} "
        f"(total CKA {record['total_cka']:.4f}; {SIMILARITY}, "
        f"{len(record['examples'])} examples, {record['tokens']} tokens)",
        "student \\ teacher " + "".join(f"{n:>8d}" for n in range(1, matrix.shape[1] + 1)),
    ]
    for m, row in enumerate(matrix, start=1):
        cells = "".join(
            f"{value:>7.3f}{'*' if n == chosen[m - 1] else ' '}"
            for n, value in enumerate(row, start=1)
        )
        lines.append(f"{m:>17d} {cells}")
    return "\n".join(lines)


def adaptive_mapping(
    path: str | Path,
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    dataset: Sequence[dict],
    collate: Callable[[list[dict]], dict[str, torch.Tensor]],
    sample: int = 256,
    seed: int = 0,
    batch_size: int = 32,
    describe: dict | None = None,
) -> list[int]:
    """``[0, g(1), ..., g(M)]`` from ``path`` if it exists, else chosen now and saved there.

    Call it before the stage's training starts, with the student as it starts the stage.
    ``describe`` (teacher, student, stage, ...) is stored in the record; when a reused
    record was made with other settings that is reported, not an error, because a resumed
    stage must keep the mapping its checkpoint was trained with. Different layer counts
    are an error. With several processes the main one measures and writes, the others wait
    and read the file.
    """
    path = Path(path)
    describe = dict(describe or {})
    state = PartialState()
    existed = path.is_file()
    if state.is_main_process and not existed:
        record = choose_mapping(
            student, teacher, dataset, collate, sample, seed, batch_size, state.device
        )
        record.update(describe)
        write_json_atomically(path, record)  # other processes read it after a barrier
        state.print(format_record(record))
        state.print(f"saved the adaptive mapping to {path}")
        if describe.get("student") == "random":
            state.print(
                "note: the student is randomly initialised, so its hidden states say little "
                "and CKA mostly reflects token identity; see distill/adaptive_mapping.py"
            )
    state.wait_for_everyone()
    record = json.loads(path.read_text(encoding="utf-8"))
    expected = (student.config.num_hidden_layers, teacher.config.num_hidden_layers)
    if (record.get("student_layers"), record.get("teacher_layers")) != expected:
        raise ValueError(
            f"{path} holds a mapping for {record.get('student_layers')} student and "
            f"{record.get('teacher_layers')} teacher layers, not {expected[0]} and "
            f"{expected[1]}; delete it or use another output folder"
        )
    mapping = layer_mapping(record["mapping"][1:], *expected)  # validates an edited file
    if existed:
        current = {"sample": sample, "seed": seed, **describe}
        changed = {k: (record.get(k), v) for k, v in current.items() if record.get(k) != v}
        state.print(f"reusing the adaptive mapping {record['mapping']} from {path}")
        if changed:
            details = ", ".join(
                f"{k}: {old!r} then, {new!r} now" for k, (old, new) in changed.items()
            )
            state.print(f"note: {path} was chosen with other settings ({details}); kept as is")
    return mapping
