"""Hand our attention to bertviz's interactive ``head_view`` / ``model_view`` in Jupyter.

bertviz is an optional extra (``pip install -e ".[viz]"``): the conversion works without
it, and it is imported only when a view is displayed. Its views are Jupyter output: they
need the notebook's JavaScript runtime and load require.js, d3 and jQuery from a CDN, so
with no network they show empty menus. ``python -m analysis attention`` writes an HTML view
that works offline anywhere. bertviz numbers layers and heads from 0; :func:`show` relabels
them from 1, as every figure of the project does.
"""

from __future__ import annotations

import torch

from analysis.extract import Example

# bertviz's JavaScript labels, and the same labels counting from 1. Each must be found in
# the installed bertviz, so a version that renames them fails loudly instead of showing
# 0-based numbers.
ONE_BASED_LABELS = {
    "head": {".text(layer)": ".text(layer + 1)"},
    "model": {
        ".text(config.layers[i])": ".text(config.layers[i] + 1)",
        ".text(config.heads[i])": ".text(config.heads[i] + 1)",
        "'Layer ' + config.layers[layerIndex] + \", Head \" + config.heads[headIndex]": (
            "'Layer ' + (config.layers[layerIndex] + 1) + \", Head \" + "
            "(config.heads[headIndex] + 1)"
        ),
    },
}


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


def in_jupyter() -> bool:
    """Whether this code runs in a Jupyter kernel (where bertviz's output can display)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def one_based(html: str, view: str) -> str:
    """bertviz's page with its layer (and head) labels counting from 1."""
    for old, new in ONE_BASED_LABELS[view].items():
        if old not in html:
            raise RuntimeError(f"this bertviz version has no {old!r} to relabel from 1")
        html = html.replace(old, new)
    return html


def bertviz_html(
    example: Example, view: str = "head", word_level: bool = False, **kwargs: object
) -> str:
    """bertviz's ``head_view`` or ``model_view`` page for ``example``, layers from 1.

    Extra keyword arguments (e.g. ``sentence_b_start``) go to bertviz; its ``layer`` and
    ``include_layers`` stay 0-based as bertviz documents them.
    """
    try:
        import bertviz
    except ImportError as error:
        raise ImportError(
            'bertviz is optional; install it with `pip install -e ".[viz]"`'
        ) from error
    views = {"head": bertviz.head_view, "model": bertviz.model_view}
    if view not in views:
        raise ValueError(f"view must be one of {sorted(views)}, not {view!r}")
    attention, tokens = to_bertviz(example, word_level)
    # bertviz writes every weight into the page as JSON; float32 values print with ~18
    # digits, so three decimals (what the view can show) make the page several times smaller.
    attention = tuple(torch.round(layer.double(), decimals=3) for layer in attention)
    page = views[view](attention, tokens, html_action="return", **kwargs)
    return one_based(page.data, view)


def show(example: Example, view: str = "head", word_level: bool = False, **kwargs: object) -> None:
    """Display :func:`bertviz_html` in the running Jupyter notebook.

    Outside Jupyter there is nowhere to display it: raises ``RuntimeError`` pointing to the
    offline HTML of ``python -m analysis attention`` instead of returning silently.
    """
    if not in_jupyter():
        raise RuntimeError(
            "bertviz views display only inside Jupyter (and load their JavaScript from a CDN); "
            "elsewhere use `python -m analysis attention --model M --text T --out DIR`, "
            "whose attention.html works offline"
        )
    from IPython.display import HTML, display

    display(HTML(bertviz_html(example, view, word_level, **kwargs)))
