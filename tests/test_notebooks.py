"""Every notebook runs top to bottom at the ``smoke`` profile (tiny models; a table notebook
trains every run of its table, a few minutes on two cores), and its committed outputs are
current: rendered top to bottom from the committed results (the digest each notebook
records matches the files as they are now).

Notebooks that train through ``distill.runner`` share one temporary work folder
(``TINYBERT_WORK_DIR``), so the tests never write into ``runs/`` of the repository and the
pieces one notebook trains (teacher, general distillation, ...) are reused by the next; the
folder holds gigabytes of checkpoints and is removed afterwards.
"""

import json
import re
import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest

from analysis.notebook_support import RENDERED_FROM, inputs_digest, matching_files
from distill.experiments.profiles import PROFILES

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
SMOKE = PROFILES["smoke"]


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook-work")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def trains(path: Path) -> bool:
    """Whether the notebook trains through the experiment runner (and so needs GLUE)."""
    return "Runner(" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_executes_at_smoke_profile(path, work_dir, monkeypatch):
    if trains(path):
        for asset in (SMOKE.glue_dir, SMOKE.corpus):
            if not asset.exists():
                pytest.skip(f"{path.name} trains on {asset}, which is absent (../shared/assets)")
    monkeypatch.setenv("TINYBERT_PROFILE", "smoke")
    monkeypatch.setenv("TINYBERT_WORK_DIR", str(work_dir))
    monkeypatch.setenv("TINYBERT_RUN_MISSING", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def rendered_from_records(notebook) -> list[dict]:
    """The ``rendered from {...}`` records in a notebook's committed outputs."""
    pattern = re.compile("^" + re.escape(RENDERED_FROM) + r"(\{.*\})$", re.MULTILINE)
    texts = [
        output.text
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "stream"
    ]
    return [json.loads(match.group(1)) for text in texts for match in pattern.finditer(text)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_outputs_are_not_older_than_the_results(path):
    """Re-render a notebook (README, "Notebooks") when the files it read have changed."""
    notebook = nbformat.read(path, as_version=4)
    records = rendered_from_records(notebook)
    assert records, f"{path.name} records no '{RENDERED_FROM}...' line: its outputs are stale"
    for record in records:
        files = matching_files(record["patterns"])
        now = {"files": len(files), "sha256": inputs_digest(files)}
        was = {"files": record["files"], "sha256": record["sha256"]}
        assert now == was, f"{path.name}: outputs older than {record['patterns']}; re-render it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_outputs_come_from_one_run_top_to_bottom(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebooks_train_only_when_asked(path):
    """Training is opt-in: RUN_MISSING comes from nb.run_missing() (default off), if used."""
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    settings = re.findall(r"^RUN_MISSING = (.*)$", code, re.MULTILINE)
    assert all(value.startswith("nb.run_missing()") for value in settings)
    assert "run_missing=True" not in code
