"""The model names the analysis commands and notebooks accept (see :mod:`distill.hub`)."""

from distill.hub import MINILM, ModelNotFound, pip_minilm_path, resolve_model

__all__ = ["MINILM", "ModelNotFound", "pip_minilm_path", "resolve_model"]
