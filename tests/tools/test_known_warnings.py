"""The entry points start without the known warnings, and only those are hidden."""
import ast
import subprocess
import sys
import warnings

import cv2
import pytest

from df2s2_d2.known_warnings import KNOWN_WARNINGS, ignore_known_warnings
from tests.common import CONFIGS, REPO
from tests.tools.test_demo import CONFIG, OPTS, faces_image, weights  # noqa: F401  (fixture)

ENTRY_POINTS = [REPO / "train_net.py", *sorted((REPO / "tools").glob("[!_]*.py")),
                *sorted((REPO / "dev").glob("[!_]*.py"))]
KNOWN = "`torch.jit.script` is deprecated"


def _run(*args):
    # `-W default` shows every warning once, whatever the interpreter's defaults.
    return subprocess.run([sys.executable, "-W", "default", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO)


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


ANCHORS = """
import df2s2_d2, torch
from detectron2.modeling import build_model
from tests.common import small_cfg
model = build_model(small_cfg()).eval()
with torch.no_grad():
    model([{"image": torch.zeros(3, 64, 64)}])
"""


def test_an_anchor_generator_call_emits_no_user_warning():
    # Detectron2 0.6's DefaultAnchorGenerator calls torch.meshgrid without `indexing`.
    result = _run("-c", ANCHORS)
    assert result.returncode == 0, result.stderr
    assert "UserWarning" not in result.stderr


def test_a_tool_start_on_an_image_emits_no_user_warning(tmp_path, weights):  # noqa: F811
    cv2.imwrite(str(tmp_path / "faces.jpg"), faces_image())
    result = _run(REPO / "tools/demo.py", "--config-file", CONFIGS / CONFIG,
                  "--input", tmp_path / "faces.jpg", "--output", f"{tmp_path / 'out'}/",
                  "MODEL.WEIGHTS", weights, "MODEL.DEVICE", "cpu", *OPTS)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/faces.jpg").is_file()
    assert "UserWarning" not in result.stderr and "FutureWarning" not in result.stderr


def test_other_user_warnings_still_show():
    code = ("import df2s2_d2, warnings, torch; warnings.warn('something else', UserWarning); "
            "torch.meshgrid(torch.arange(2), torch.arange(2), indexing='ij')")
    result = _run("-c", code)
    assert "UserWarning: something else" in result.stderr


def test_the_known_warnings_are_hidden_by_message_not_by_category():
    with warnings.catch_warnings():
        warnings.resetwarnings()
        ignore_known_warnings()
        added = list(warnings.filters)
    assert len(added) == len(KNOWN_WARNINGS)
    for action, message, category, module, lineno in added:
        assert action == "ignore" and module is None and lineno == 0
        # Each filter names its message; none hides a whole category.
        assert message is not None and message.pattern in {m for m, _ in KNOWN_WARNINGS}
        assert category in {c for _, c in KNOWN_WARNINGS}
