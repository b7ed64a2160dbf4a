"""The interactive attention page renders in a real browser with no network.

Debian's Chromium (``apt-get install -y chromium``) loads the page headless, with a fresh
profile, background networking off, every host name unresolvable and a dead proxy, so
nothing can be fetched; ``--dump-dom`` returns the DOM after a virtual-time budget. A
control page that needs a CDN script shows that the network is indeed out of reach. The
test skips where Chromium is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.interactive import AttentionView, attention_html

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium on PATH (Debian: apt-get install -y chromium)"
)
TOKENS = ["[CLS]", "the", "truck", "is", "big", "the", "[SEP]"]  # "the" twice on purpose

# Chooses layer 2, head 3 through the page's own menus, then records what the plot shows.
CHOOSE_LAYER_2_HEAD_3 = """
<script>
window.addEventListener('load', () => {
  for (const [id, value] of [['layer-menu', '1'], ['head-menu', '2']]) {
    const menu = document.getElementById(id);
    menu.value = value;
    menu.dispatchEvent(new Event('change'));
  }
  const plot = document.getElementById('attention');
  const visible = plot.data.find(trace => trace.visible === true);
  document.body.setAttribute('data-shown-z', JSON.stringify(visible.z));
});
</script>
"""


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after Chromium ran its scripts, with no network reachable."""
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves ...
        "--proxy-server=http://127.0.0.1:9",  # ... and every request goes to a closed port
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def maps():
    rng = np.random.default_rng(0)
    return rng.dirichlet(np.ones(len(TOKENS)), size=(2, 4, len(TOKENS)))  # layers, heads


def test_page_renders_offline_and_menus_choose_the_head(maps, tmp_path):
    labels = ["layer 1", "layer 2"]
    html = attention_html([AttentionView("teacher", maps, labels)], TOKENS)
    page = tmp_path / "attention.html"
    page.write_text(html.replace("</body>", CHOOSE_LAYER_2_HEAD_3 + "</body>"), encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")

    assert dom.count('class="main-svg"') >= 1  # plotly drew its SVG
    assert re.search(r'<g class="heatmaplayer[^"]*"[^>]*>.*?<image', dom, re.S)  # the map
    for menu in ("model-menu", "layer-menu", "head-menu"):
        assert f'<select id="{menu}"' in dom
    assert "<option" in dom and ">layer 2</option>" in dom and ">head 4</option>" in dom
    title = re.search(r'class="gtitle"[^>]*>([^<]*)<', dom).group(1)
    assert title == "teacher: layer 2, head 3"
    ticks = re.findall(r'class="xtick"><text[^>]*data-unformatted="([^"]*)"', dom)
    assert ticks == TOKENS  # repeated tokens keep their own columns
    shown = json.loads(re.search(r"data-shown-z=\"([^\"]*)\"", dom).group(1).replace("&quot;", '"'))
    np.testing.assert_allclose(shown, maps[1, 2], atol=1e-4)


def test_network_is_out_of_reach_for_the_browser(tmp_path):
    """Control: a page that needs a script from a CDN does not get it."""
    page = tmp_path / "cdn.html"
    page.write_text(
        '<html><body><script src="https://cdn.plot.ly/plotly-2.35.2.min.js"></script>'
        "<script>document.body.setAttribute('data-cdn', typeof Plotly);</script></body></html>",
        encoding="utf-8",
    )
    dom = dump_dom(page, tmp_path / "profile")
    assert 'data-cdn="undefined"' in dom


def test_command_output_with_a_student_renders_offline(tmp_path, capsys):
    """The page ``python -m analysis attention --student`` writes, in the same browser."""
    from tiny import make_masked_lm

    from analysis.attention import main

    teacher = make_masked_lm(tmp_path / "teacher", layers=4, seed=0)
    student = make_masked_lm(tmp_path / "student", layers=2, seed=1)
    out = tmp_path / "out"
    argv = ["--model", str(teacher), "--student", str(student), "--out", str(out), "--heads", "1:1"]
    main([*argv, "--text", "the truck is big .", "--pair", "is it big ?"])
    capsys.readouterr()
    dom = dump_dom(out / "attention.html", tmp_path / "profile")
    assert 'class="main-svg"' in dom
    models = re.findall(r"<option[^>]*>([^<]*)</option>", dom.split('id="layer-menu"')[0])
    assert models == [str(teacher), str(student), "student minus mapped teacher"]
    title = re.search(r'class="gtitle"[^>]*>([^<]*)<', dom).group(1)
    assert title == f"{teacher}: layer 1, head 1"
