"""The repository's layout: user tools in tools/, development instruments in dev/,
no sys.path inserts, no sys.modules rewriting, one parser for --config-file and opts."""
import re

import pytest

from df2s2_d2.argument_parser import config_argument_parser
from tests.common import REPO

USER_TOOLS = {"analyze_model.py", "benchmark.py", "check_dataset.py", "demo.py", "export.py",
              "quickstart.py", "visualize_data.py"}


def _python_files():
    for folder in ("df2s2_d2", "df2s2_deploy", "tools", "dev", "tests", "configs", "install"):
        yield from (REPO / folder).rglob("*.py")
    yield REPO / "train_net.py"


def test_tools_holds_only_the_user_tools():
    assert {p.name for p in (REPO / "tools").glob("[!_]*.py")} == USER_TOOLS


def test_no_sys_path_inserts():
    pattern = re.compile(r"sys\.path\.(insert|append)\(")
    assert [p for p in _python_files() if pattern.search(p.read_text())] == []


def test_the_package_does_not_rewrite_sys_modules():
    for package in ("df2s2_d2", "df2s2_deploy"):
        for path in (REPO / package).rglob("*.py"):
            assert "sys.modules[" not in path.read_text(), path


def test_tools_take_config_file_and_opts_from_the_shared_parser():
    for path in [*(REPO / "tools").glob("*.py"), *(REPO / "dev").glob("*.py")]:
        text = path.read_text()
        if "--config-file" in text and '"opts"' in text:
            assert 'add_argument("--config-file"' not in text, path


def test_shared_parser_requires_a_config_file_unless_it_has_a_default():
    parser = config_argument_parser("x")
    with pytest.raises(SystemExit):
        parser.parse_args([])
    args = parser.parse_args(["--config-file", "a.yaml", "MODEL.DEVICE", "cpu"])
    assert args.config_file == "a.yaml" and args.opts == ["MODEL.DEVICE", "cpu"]
    assert config_argument_parser("x", config_file_default="b.yaml").parse_args([]).config_file == "b.yaml"
