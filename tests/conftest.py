"""Shared fixtures: tiny models built on the spot, and the real assets when present."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tiny  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "assets"


def shared_asset(*parts: str) -> Path:
    """A path under ``../shared/assets``, skipping the test when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real asset {path} is absent (../shared/assets not beside the project)")
    return path


@pytest.fixture(scope="session")
def tiny_mlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny ``BertForMaskedLM`` with its tokenizer, saved to a folder."""
    return tiny.make_masked_lm(tmp_path_factory.mktemp("tiny-mlm"), max_positions=64)


@pytest.fixture(scope="session")
def tiny_glove_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Stanford-format GloVe text file over the tiny vocabulary's whole words."""
    rng = np.random.default_rng(0)
    words = [w for w in tiny.WORDS if not w.startswith("##")] + ["unbelievable", "2020", "..."]
    path = tmp_path_factory.mktemp("glove") / "glove.tiny.8d.txt"
    lines = [f"{w} " + " ".join(f"{x:.5f}" for x in rng.normal(size=8)) for w in words]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
