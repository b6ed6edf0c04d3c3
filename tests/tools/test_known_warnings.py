"""The entry points start without the known FutureWarnings, and only those are hidden."""
import ast
import subprocess
import sys

import pytest

from tests.common import REPO

ENTRY_POINTS = [REPO / "train_net.py", *sorted((REPO / "tools").glob("[!_]*.py"))]
KNOWN = "`torch.jit.script` is deprecated"


def _run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=REPO)


def test_a_tool_help_prints_no_known_warning():
    bare = _run("-c", "import detectron2.modeling")
    if KNOWN not in bare.stderr:
        pytest.skip("this PyTorch prints no torch.jit.script warning")
    for tool in (REPO / "tools/demo.py", REPO / "train_net.py"):
        result = _run(tool, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout
        assert KNOWN not in result.stderr, tool


def test_other_warnings_still_show():
    code = "import df2s2_d2, warnings; warnings.warn('something else', FutureWarning)"
    assert "FutureWarning: something else" in _run("-c", code).stderr


def _top_level_imports(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda p: p.name)
def test_entry_point_imports_df2s2_d2_before_detectron2(path):
    names = list(_top_level_imports(path))
    first_d2 = next((i for i, n in enumerate(names) if n.split(".")[0] in ("detectron2", "fvcore")),
                    None)
    if first_d2 is not None:
        assert any(n.split(".")[0] == "df2s2_d2" for n in names[:first_d2]), path.name
