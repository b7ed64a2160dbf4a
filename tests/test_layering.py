"""Package layering: arrows only point down.

``augment`` stands alone (it never imports ``distill``); inside ``distill`` the layers are
maths -> training -> stages -> experiments -> commands, and a module imports only modules
of its own layer or below, so that the folder reads bottom-up and nothing imports in a
circle through a higher layer.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DISTILL_LAYERS = {
    # what every layer may use: user errors, model names
    "distill.errors": 0,
    "distill.hub": 0,
    # maths and data: losses, layer mapping, attention scores; GLUE files, task data in
    # other formats, corpus, metrics
    "distill.losses": 1,
    "distill.mapping": 1,
    "distill.attention": 1,
    "distill.dropout": 1,
    "distill.glue": 1,
    "distill.task_data": 1,
    "distill.corpus": 1,
    "distill.metrics": 1,
    # training: models, the distiller, the loop and what it writes
    "distill.models": 2,
    "distill.distiller": 2,
    "distill.training": 2,
    "distill.checkpoints": 2,
    "distill.teacher_cache": 2,
    "distill.adaptive_mapping": 2,
    "distill.evaluation": 2,
    "distill.model_card": 2,
    # stages: one typed spec in, one result out
    "distill.stages": 3,
    # experiments: profiles, table rows, results layout, the runner
    "distill.experiments": 4,
    # commands
    "distill.cli": 5,
    "distill.__main__": 5,
}


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a source file imports (``from distill import x`` as
    ``distill.x``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in ("distill", "augment"):
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int | None:
    """The layer of a ``distill`` module (a subpackage's modules share its layer)."""
    for prefix, level in DISTILL_LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return level
    return None


def test_augment_never_imports_distill():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] == "distill"
        )
        for path in sorted((ROOT / "augment").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_distill_module_has_a_layer():
    modules = [module_name(path) for path in sorted((ROOT / "distill").rglob("*.py"))]
    assert [m for m in modules if m != "distill" and layer(m) is None] == []


def test_no_distill_module_imports_a_higher_layer():
    upward = {}
    for path in sorted((ROOT / "distill").rglob("*.py")):
        importer = module_name(path)
        if importer == "distill":
            continue
        higher = sorted(
            name
            for name in imported_modules(path)
            if layer(name) is not None and layer(name) > layer(importer)
        )
        if higher:
            upward[importer] = higher
    assert upward == {}
