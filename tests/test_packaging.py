"""The conda environment and the pip metadata must list the same dependencies."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirements(project: dict, extra: str) -> set[str]:
    """An extra's requirements, with the project's own extras (``name[tracking]``) expanded."""
    own = f"{project['name']}["
    wanted = set()
    for requirement in project["optional-dependencies"][extra]:
        if requirement.startswith(own):
            wanted |= requirements(project, requirement[len(own) : -1])
        else:
            wanted.add(requirement)
    return wanted


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | requirements(project, "dev")
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    listed = {line for line in pip_section if not line.startswith("-")}
    assert listed == wanted


def test_readme_names_the_commands_that_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("make setup", "make test"):
        assert command in readme and command in ci
