"""install/: the pinned versions, Detectron2 from a source archive, user environments."""
import re
import tarfile

import pytest

from tests.common import REPO


@pytest.fixture
def install_scripts(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "install"))
    import install_detectron2
    import install_missing

    return install_detectron2, install_missing


def test_constraints_pin_versions_only():
    for n, line in enumerate((REPO / "install/constraints.txt").read_text().splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+]+", line), (n, line)


def _archive(tmp_path, tops):
    src = tmp_path / "src"
    for top in tops:
        (src / top / "detectron2").mkdir(parents=True)
        (src / top / "setup.py").write_text("# setup\n")
    path = tmp_path / "detectron2-main.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for top in tops:
            tar.add(src / top, arcname=top)
    return path


def test_source_archive_is_unpacked_once_into_its_top_folder(install_scripts, tmp_path):
    install_detectron2, _ = install_scripts
    archive = _archive(tmp_path, ["detectron2-abc"])
    dest = tmp_path / "env_src"
    folder = install_detectron2.unpack(archive, dest)
    assert folder == dest / "detectron2-abc" and (folder / "setup.py").exists()
    (folder / "setup.py").write_text("# built\n")
    assert install_detectron2.unpack(archive, dest) == folder
    assert (folder / "setup.py").read_text() == "# built\n"  # not unpacked again


def test_bad_sources_name_the_problem(install_scripts, tmp_path):
    install_detectron2, _ = install_scripts
    with pytest.raises(SystemExit, match="one top folder"):
        install_detectron2.unpack(_archive(tmp_path, ["a", "b"]), tmp_path / "out")
    with pytest.raises(SystemExit, match=f"DETECTRON2_SRC={tmp_path}: expected Detectron2's source"):
        install_detectron2.source_folder(str(tmp_path))


def test_pins_only_what_the_environment_lacks(install_scripts):
    _, install_missing = install_scripts
    pins = install_missing.pins_for_missing({"numpy": "1.26.4", "typing-extensions": "4.0"})
    assert "numpy==" not in pins and "typing_extensions==" not in pins
    assert re.search(r"^torch==", pins, re.M)


def test_user_environment_is_never_changed(install_scripts, monkeypatch):
    _, install_missing = install_scripts
    calls = []
    monkeypatch.setattr(install_missing, "installed_versions", lambda: {"numpy": "1.26.4"})
    monkeypatch.setattr(install_missing.subprocess, "check_call", calls.append)

    monkeypatch.setattr(install_missing, "resolve", lambda c, r: [
        ("df2s2-d2", "0.1.0"), ("numpy", "2.4.6"), ("yacs", "0.1.8")])
    with pytest.raises(SystemExit, match=r"numpy 1\.26\.4 -> 2\.4\.6"):
        install_missing.main()
    assert calls == []

    monkeypatch.setattr(install_missing, "resolve", lambda c, r: [
        ("df2s2-d2", "0.1.0"), ("yacs", "0.1.8")])
    install_missing.main()
    assert calls[0][-2:] == ["--no-deps", "yacs==0.1.8"]
    assert calls[1][-3:] == ["--no-deps", "-e", str(REPO)]

