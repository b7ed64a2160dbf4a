"""Every notebook runs top to bottom at the ``smoke`` profile (tiny models; a table notebook
trains every run of its table, a few minutes on two cores).

Notebooks that train through ``distill.runner`` share one temporary work folder
(``TINYBERT_WORK_DIR``), so the tests never write into ``runs/`` of the repository and the
pieces one notebook trains (teacher, general distillation, ...) are reused by the next; the
folder holds gigabytes of checkpoints and is removed afterwards.
"""

import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest

from distill.profiles import PROFILES

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
