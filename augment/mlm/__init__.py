"""Masked language models for Algorithm 1: loading by name, and the embedded default.

Algorithm 1 needs a BERT with a masked-LM head. Users with a network pass the paper's
``bert-base-uncased``; machines without one get the *embedded default*: the pip-installed
all-MiniLM-L6-v2 encoder with a masked-LM head and the encoder's biases and LayerNorms
adapted on Wikipedia by :mod:`augment.mlm.adapt`. Only the adapted weights ship with this
package (fp16, under half a MB, ``augment/data/``); they are loaded on top of the
pip-installed encoder.
"""

from augment.mlm.loading import (
    EMBEDDED_DELTA,
    LoadedMaskedLM,
    MaskedLMError,
    build_masked_lm_on_encoder,
    load_adapted,
    load_masked_lm,
    minilm_encoder_path,
)

__all__ = [
    "EMBEDDED_DELTA",
    "LoadedMaskedLM",
    "MaskedLMError",
    "build_masked_lm_on_encoder",
    "load_adapted",
    "load_masked_lm",
    "minilm_encoder_path",
]
