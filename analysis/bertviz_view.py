"""Hand our attention to bertviz's interactive ``head_view`` / ``model_view``.

bertviz is an optional dependency (it is not in ``pyproject.toml``): the conversion works
without it, and it is imported only when a view is actually displayed in a notebook.
"""

from __future__ import annotations

import torch

from analysis.extract import Example


def to_bertviz(
    example: Example, word_level: bool = False
) -> tuple[tuple[torch.Tensor, ...], list[str]]:
    """Return ``(attention, tokens)`` as bertviz expects them.

    bertviz wants what a HF model returns with ``output_attentions=True``: one tensor per
    layer shaped ``(batch, heads, len, len)``; we use a batch of one.
    """
    matrices = example.word_attentions() if word_level else example.attentions
    tokens = example.words if word_level else example.tokens
    attention = tuple(torch.from_numpy(layer).float().unsqueeze(0) for layer in matrices)
    return attention, list(tokens)


def show(example: Example, view: str = "head", word_level: bool = False, **kwargs: object):
    """Display ``example`` in bertviz's ``head_view`` or ``model_view`` (needs bertviz).

    Extra keyword arguments (e.g. ``sentence_b_start``, ``html_action``) go to bertviz.
    """
    try:
        import bertviz
    except ImportError as error:
        raise ImportError("bertviz is optional; install it with `pip install bertviz`") from error
    views = {"head": bertviz.head_view, "model": bertviz.model_view}
    if view not in views:
        raise ValueError(f"view must be one of {sorted(views)}, not {view!r}")
    attention, tokens = to_bertviz(example, word_level)
    return views[view](attention, tokens, **kwargs)
