"""Install df2s2_d2 into a user's own environment without changing any package it has.

For ``make VENV=/path/to/env`` on an environment that ``make setup`` did not create.
pip first resolves the project (``pip install --dry-run --report``), with the pins of
``install/constraints.txt`` applied only to the packages the environment lacks. If that
resolution would replace a package the environment already has, nothing is installed
and the message names each one with both versions. Otherwise exactly the resolved
missing packages are installed (``--no-deps``), then the project (editable).

Usage: ``python install/install_missing.py`` (from the repository root)
"""
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "install" / "constraints.txt"
PROJECT = "df2s2-d2"
PIP = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def canonical(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict:
    """{canonical name: version} of every distribution in this environment."""
    return {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
            if d.metadata["Name"]}


def pins_for_missing(installed: dict) -> str:
    """The lines of constraints.txt whose package this environment lacks."""
    lines = []
    for line in CONSTRAINTS.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==", line)
        if match and canonical(match.group(1)) not in installed:
            lines.append(line.strip())
    return "\n".join(lines) + "\n"


def resolve(constraints: Path, report: Path) -> list:
    """[(canonical name, version)] that ``pip install -e .[dev]`` would install here."""
    subprocess.check_call(PIP + ["--dry-run", "--report", str(report), "-c", str(constraints),
                                 "-e", f"{REPO}[dev]"])
    items = json.loads(report.read_text())["install"]
    return [(canonical(item["metadata"]["name"]), item["metadata"]["version"]) for item in items]


def main() -> None:
    installed = installed_versions()
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(pins_for_missing(installed))
        plan = [(n, v) for n, v in resolve(constraints, Path(tmp) / "report.json") if n != PROJECT]
    changes = [f"{n} {installed[n]} -> {v}" for n, v in plan if n in installed]
    if changes:
        sys.exit(f"{sys.prefix} is not an environment that `make setup` created, so it is left "
                 "unchanged, but df2s2_d2 needs these packages changed: " + ", ".join(changes)
                 + ". Change them yourself, or run `make setup` without VENV= for a separate "
                 ".venv.")
    if plan:
        print("Installing what this environment lacks: "
              + ", ".join(f"{n}=={v}" for n, v in plan), flush=True)
        subprocess.check_call(PIP + ["--no-deps"] + [f"{n}=={v}" for n, v in plan])
    subprocess.check_call(PIP + ["--no-deps", "-e", str(REPO)])


if __name__ == "__main__":
    main()
