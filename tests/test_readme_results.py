"""README's result blocks (Tables 2-4, majority tests, conclusions, shared pieces, cost)
are what the analysis commands write from the committed records of ``results/cpu``: a new
grid or a changed analysis that is not written into the README fails here."""

from __future__ import annotations

import shutil
from pathlib import Path

from analysis import conclusions, cost, pieces, tables

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "cpu"


def test_the_readme_blocks_are_regenerated_unchanged(tmp_path, capsys):
    readme = tmp_path / "README.md"
    shutil.copyfile(ROOT / "README.md", readme)
    tables.main([str(RESULTS), str(tmp_path / "tables"), "--update", str(readme)])
    conclusions.main([str(RESULTS), "--update", str(readme)])
    cost.main([str(RESULTS), "--update", str(readme)])
    pieces.main([str(RESULTS), "--update", str(readme)])
    capsys.readouterr()  # the commands also print what they write
    assert readme.read_text(encoding="utf-8") == (ROOT / "README.md").read_text(encoding="utf-8")
