"""A self-contained interactive attention view: one HTML file that works with no network.

Built on plotly's offline HTML: plotly.js (from the plotly pip package) is inlined into the
file, so nothing is fetched from a CDN and the page renders from a disk, an e-mail
attachment or a machine with no internet. The page holds every head of every model given;
menus choose the model, the layer and the head, and hovering a cell shows the query token,
the key token and the weight. Layers are numbered from 1, as in every figure of the project.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go


@dataclass(frozen=True)
class AttentionView:
    """One model's maps for the page: ``maps`` is ``(layers, heads, n, n)``, queries on rows.

    ``layer_labels`` name the layers in the menu (e.g. ``layer 2 (copies teacher layer 4)``);
    ``difference`` marks signed maps (student minus teacher), drawn on a diverging scale.
    """

    name: str
    maps: np.ndarray
    layer_labels: Sequence[str]
    difference: bool = False


# Runs after plotly has drawn the figure ({plot_id} is filled in by plotly): adds the three
# menus above the plot and swaps the visible trace and its z values when one changes.
MENU_SCRIPT = """
const plot = document.getElementById('{plot_id}');
const views = VIEWS_JSON;
const bar = document.createElement('div');
bar.id = 'attention-menus';
bar.style.font = '14px sans-serif';
bar.style.margin = '8px';
plot.parentNode.insertBefore(bar, plot);
function menu(label, id) {
  const span = document.createElement('label');
  span.textContent = label + ' ';
  span.style.marginRight = '16px';
  const select = document.createElement('select');
  select.id = id;
  span.appendChild(select);
  bar.appendChild(span);
  return select;
}
function fill(select, labels) {
  select.innerHTML = '';
  labels.forEach((text, index) => select.add(new Option(text, index)));
}
const modelMenu = menu('model', 'model-menu');
const layerMenu = menu('layer', 'layer-menu');
const headMenu = menu('head', 'head-menu');
fill(modelMenu, views.map(view => view.name));
function refill() {
  const view = views[modelMenu.value];
  fill(layerMenu, view.layers);
  fill(headMenu, view.maps[0].map((_, head) => 'head ' + (head + 1)));
}
function show() {
  const index = Number(modelMenu.value);
  const view = views[index];
  const layer = Number(layerMenu.value), head = Number(headMenu.value);
  const visible = views.map((_, other) => other === index);
  Plotly.restyle(plot, {visible: visible});
  Plotly.restyle(plot, {z: [view.maps[layer][head]]}, [index]);
  const title = view.name + ': ' + view.layers[layer] + ', head ' + (head + 1);
  Plotly.relayout(plot, {'title.text': title});
}
modelMenu.addEventListener('change', () => { refill(); show(); });
layerMenu.addEventListener('change', show);
headMenu.addEventListener('change', show);
refill();
"""


def attention_figure(views: Sequence[AttentionView], tokens: Sequence[str]) -> go.Figure:
    """One heat-map trace per view (the first visible), showing layer 1, head 1.

    Token positions, not token strings, are the axis values, so repeated tokens (two
    ``[SEP]``, a word used twice) keep their own rows; the strings are tick labels and
    hover text.
    """
    positions = list(range(len(tokens)))
    pairs = [[[query, key] for key in tokens] for query in tokens]
    figure = go.Figure()
    for index, view in enumerate(views):
        limit = float(np.abs(view.maps).max()) or 1.0
        scale = (
            {"colorscale": "RdBu", "reversescale": True, "zmin": -limit, "zmax": limit}
            if view.difference
            else {"colorscale": "Viridis", "zmin": 0.0, "zmax": float(view.maps.max())}
        )
        value = "difference" if view.difference else "weight"
        figure.add_trace(
            go.Heatmap(
                z=view.maps[0, 0],
                x=positions,
                y=positions,
                customdata=pairs,
                hovertemplate=(
                    "query: %{customdata[0]}<br>key: %{customdata[1]}<br>"
                    f"{value}: %{{z:.3f}}<extra>{view.name}</extra>"
                ),
                colorbar={"title": {"text": value}},
                visible=index == 0,
                name=view.name,
                **scale,
            )
        )
    first = views[0]
    size = max(450, 28 * len(tokens) + 200)
    figure.update_layout(
        title={"text": f"{first.name}: {first.layer_labels[0]}, head 1"},
        width=size + 120,
        height=size,
        xaxis={"tickvals": positions, "ticktext": list(tokens), "title": "key (attended to)"},
        yaxis={
            "tickvals": positions,
            "ticktext": list(tokens),
            "title": "query (attending)",
            "autorange": "reversed",
            "scaleanchor": "x",
        },
    )
    return figure


def attention_html(views: Sequence[AttentionView], tokens: Sequence[str]) -> str:
    """The whole page: plotly.js inlined, the maps as JSON, the menus as a small script."""
    if not views:
        raise ValueError("no attention to show")
    for view in views:
        if view.maps.shape[-1] != len(tokens) or len(view.layer_labels) != view.maps.shape[0]:
            raise ValueError(f"{view.name}: maps {view.maps.shape} do not match the tokens/layers")
    payload = [
        {
            "name": view.name,
            "layers": list(view.layer_labels),
            "maps": np.round(view.maps.astype(np.float64), 4).tolist(),
        }
        for view in views
    ]
    script = MENU_SCRIPT.replace("VIEWS_JSON", json.dumps(payload))
    return attention_figure(views, tokens).to_html(
        include_plotlyjs=True, full_html=True, post_script=script, div_id="attention"
    )


def write_attention_html(
    path: str | Path, views: Sequence[AttentionView], tokens: Sequence[str]
) -> Path:
    """Write :func:`attention_html` to ``path`` (UTF-8) and return it."""
    path = Path(path)
    path.write_text(attention_html(views, tokens), encoding="utf-8")
    return path
