"""Config files that cannot be used give an error naming the file and what was expected."""

import pytest

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.config import ConfigFileError
from tests.data.bad_input import digests


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "the config file is empty; expected a YAML mapping"),
        ("\n# only a comment\n", "the config file is empty"),
        ("- MODEL\n- INPUT\n", "expected a YAML mapping of config keys .*found list"),
        ("42\n", "found int 42"),
        ("MODEL: [\n", "not valid YAML"),
        ("MODEL:\n  NO_SUCH_KEY: 1\n", "Non-existent config key: MODEL.NO_SUCH_KEY"),
        ("_BASE_: 5\n", "_BASE_ must be a file path"),
    ],
)
def test_unusable_config_file_is_named(tmp_path, text, expected):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    before = digests(tmp_path)
    with pytest.raises(ConfigFileError, match=f"my.yaml: .*{expected}"):
        get_df2s2_cfg(str(path))
    assert digests(tmp_path) == before


def test_non_utf8_config_file_is_named(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("OUTPUT_DIR: '\u00e9'\n".encode("latin-1"))
    with pytest.raises(ConfigFileError, match="latin.yaml: expected UTF-8"):
        get_df2s2_cfg(str(path))


@pytest.mark.parametrize("name", ["missing.yaml", "."])
def test_missing_config_file_is_named(tmp_path, name):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        get_df2s2_cfg(str(tmp_path / name))


def test_empty_or_missing_base_is_named_with_its_child(tmp_path):
    (tmp_path / "base.yaml").write_text("")
    (tmp_path / "leaf.yaml").write_text("_BASE_: base.yaml\nSEED: 3\n")
    with pytest.raises(
        ConfigFileError, match=r"base.yaml: the config file is empty \(the _BASE_ of .*leaf.yaml\)"
    ):
        get_df2s2_cfg(str(tmp_path / "leaf.yaml"))
    (tmp_path / "leaf.yaml").write_text("_BASE_: gone.yaml\n")
    with pytest.raises(FileNotFoundError, match="gone.yaml: config file not found"):
        get_df2s2_cfg(str(tmp_path / "leaf.yaml"))


def test_base_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("_BASE_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_BASE_: a.yaml\n")
    with pytest.raises(ConfigFileError, match="already in the chain"):
        get_df2s2_cfg(str(tmp_path / "a.yaml"))


def test_valid_config_with_base_still_merges(tmp_path):
    (tmp_path / "base.yaml").write_text("SEED: 3\n")
    (tmp_path / "leaf.yaml").write_text(
        "_BASE_: base.yaml\nINPUT:\n  BAD_INPUT:\n    FAIL_FAST: True\n"
    )
    cfg = get_df2s2_cfg(str(tmp_path / "leaf.yaml"))
    assert cfg.SEED == 3 and cfg.INPUT.BAD_INPUT.FAIL_FAST is True
