"""Every shipped config loads and builds its model."""
import pytest

from detectron2.modeling import build_model

from tests.common import CONFIGS, get_config

CONFIG_FILES = sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.yaml"))


def test_configs_are_found():
    assert "Base-DF2S2.yaml" in CONFIG_FILES and len(CONFIG_FILES) >= 15


@pytest.mark.parametrize("path", CONFIG_FILES)
def test_config_builds_a_model(path):
    cfg = get_config(path)
    model = build_model(cfg)
    assert type(model).__name__ == cfg.MODEL.META_ARCHITECTURE
    if "df2s2" in path or "ablations" in path:
        assert model.head_in_features == ["p2", "p3", "p4", "p5", "p6", "p7"]
