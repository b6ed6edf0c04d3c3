"""Install Detectron2 v0.6's Python sources when no Detectron2 is importable.

Detectron2 is on neither PyPI nor Debian. The only copy the package registries
hold is PyPI's ``pb1-detectron2==0.6``: an sdist whose Python files are
identical to upstream Detectron2 v0.6 but which lacks ``layers/csrc`` (the C++ /
CUDA ops), so it does not build as published. This script

1. does nothing when ``import detectron2`` already works (a user's own build
   from source stays untouched);
2. otherwise downloads that sdist (hash-checked), takes its ``detectron2/``
   package, applies the small set of edits in ``PATCHES`` (every deviation from
   upstream v0.6 is listed there, with the upstream change it mirrors) and adds
   ``detectron2/_C.py``, a stand-in for the compiled extension whose ops raise
   an error that names the op;
3. installs the result as the ``detectron2`` distribution, version
   ``0.6+pyonly``.

Usage: ``python install/detectron2_fallback.py [--force]``
"""
import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "pb1-detectron2==0.6"
SDIST_SHA256 = "5d2e9e51e523ec72f6a31cca04b0a515492e9514b773a3d134cedc0677170b29"
VERSION = "0.6+pyonly"

# (file, old text, new text, why / upstream change mirrored). Each old text must
# occur exactly once, so a different sdist fails loudly instead of half-patching.
PATCHES = [
    (
        "data/transforms/transform.py",
        "interp=Image.LINEAR,",
        "interp=Image.BILINEAR,",
        "Pillow 10 removed Image.LINEAR; upstream main uses Image.BILINEAR (same filter).",
    ),
    (
        "export/__init__.py",
        "from .api import *\n",
        "try:  # caffe2 is optional (gone from PyTorch); as in upstream main\n"
        "    from caffe2.proto import caffe2_pb2 as _tmp  # noqa: F401\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    from .api import *\n",
        "upstream main imports the caffe2 export API only when caffe2 exists.",
    ),
    (
        "model_zoo/model_zoo.py",
        "import pkg_resources\n",
        "from importlib import resources as _resources\n",
        "setuptools 81 removed pkg_resources; importlib.resources gives the same file.",
    ),
    (
        "model_zoo/model_zoo.py",
        'cfg_file = pkg_resources.resource_filename(\n'
        '        "detectron2.model_zoo", os.path.join("configs", config_path)\n'
        "    )",
        'cfg_file = str(_resources.files("detectron2.model_zoo").joinpath("configs", config_path))',
        "same as above.",
    ),
    (
        "engine/launch.py",
        '    assert torch.cuda.is_available(), "cuda is not available. Please check your installation."\n',
        "    has_gpu = torch.cuda.is_available()\n",
        "upstream main launches with GLOO when there is no GPU.",
    ),
    (
        "engine/launch.py",
        'backend="NCCL",',
        'backend="NCCL" if has_gpu else "GLOO",',
        "same as above.",
    ),
    (
        "engine/launch.py",
        "    assert num_gpus_per_machine <= torch.cuda.device_count()\n"
        "    torch.cuda.set_device(local_rank)\n",
        "    if has_gpu:\n"
        "        assert num_gpus_per_machine <= torch.cuda.device_count()\n"
        "        torch.cuda.set_device(local_rank)\n",
        "same as above.",
    ),
    (
        "layers/nms.py",
        "    return torch.ops.detectron2.nms_rotated(boxes, scores, iou_threshold)\n",
        "    from detectron2 import _C\n"
        "\n"
        "    return _C.nms_rotated(boxes, scores, iou_threshold)  # the stand-in raises\n",
        "no compiled ops here: rotated NMS raises the stand-in's error naming the op.",
    ),
    (
        "data/common.py",
        "self._rng.sample(self._fallback_candidates, k=1)",
        "self._rng.sample(list(self._fallback_candidates), k=1)",
        "random.sample() no longer takes a set (Python 3.11); upstream main passes a list.",
    ),
    (
        "evaluation/coco_evaluation.py",
        "from detectron2.evaluation.fast_eval_api import COCOeval_opt\n",
        "try:  # the fast C++ COCOeval needs compiled ops; as in upstream main\n"
        "    from detectron2 import _C\n"
        "    from detectron2.evaluation.fast_eval_api import COCOeval_opt\n"
        "\n"
        "    _C.COCOevalAccumulate  # the stand-in _C raises ImportError here\n"
        "except ImportError:\n"
        "    COCOeval_opt = COCOeval\n",
        "upstream main falls back to pycocotools' COCOeval when the fast one is absent.",
    ),
]

# numpy 1.24 removed the aliases np.bool / np.int / np.float / np.str / np.object;
# upstream main replaced them by the builtins. Applied to every file.
NUMPY_ALIAS = re.compile(r"\bnp\.(bool|int|float|str|object)\b(?!_)")

COMPILED_STAND_IN = '''"""Stand-in for Detectron2's compiled extension (this install has none).

Created by df2s2_d2's install/detectron2_fallback.py. Every compiled op raises
an ImportError that names it; build Detectron2 from source to get them.
"""

PYTHON_ONLY = True


def get_compiler_version():
    return "none: Detectron2 installed without compiled ops"


def get_cuda_version():
    return "none: Detectron2 installed without compiled ops"


def has_cuda():
    return False


class MissingCompiledOpError(ImportError):
    pass


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise MissingCompiledOpError(
        f"detectron2._C.{name} is a compiled op (deformable conv, rotated boxes / NMS / "
        "ROIAlign or the fast COCO evaluation) and this Detectron2 was installed from its "
        "Python sources only. Build Detectron2 from source to use it: "
        "https://detectron2.readthedocs.io/en/latest/tutorials/install.html"
    )
'''

PYPROJECT = f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "detectron2"
version = "{VERSION}"
description = "Detectron2 v0.6 Python sources, installed without compiled ops"
requires-python = ">=3.8"

[tool.setuptools.packages.find]
include = ["detectron2*"]

[tool.setuptools.package-data]
"detectron2.model_zoo" = ["configs/**/*"]
"""


def detectron2_importable() -> bool:
    return importlib.util.find_spec("detectron2") is not None


def apply_patches(package: Path) -> None:
    """Edit the extracted ``detectron2/`` package in place (see PATCHES)."""
    for rel, old, new, _why in PATCHES:
        path = package / rel
        text = path.read_text()
        if text.count(old) != 1:
            raise RuntimeError(f"{path}: expected exactly one occurrence of {old!r}")
        path.write_text(text.replace(old, new))
    for path in package.rglob("*.py"):
        text = path.read_text()
        fixed = NUMPY_ALIAS.sub(r"\1", text)
        if fixed != text:
            path.write_text(fixed)
    (package / "_C.py").write_text(COMPILED_STAND_IN)


def download_sdist(dest: Path) -> Path:
    req = dest / "requirements.txt"
    req.write_text(f"{SDIST} --hash=sha256:{SDIST_SHA256}\n")
    # --no-build-isolation: its setup.py imports torch, which is already installed.
    subprocess.check_call(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--no-build-isolation", "--require-hashes", "-r", str(req), "-d", str(dest)]
    )
    (sdist,) = dest.glob("pb1*detectron2-0.6.tar.gz")
    return sdist


def build_tree(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    (root,) = dest.glob("pb1*detectron2-0.6")
    tree = dest / "detectron2-pyonly"
    tree.mkdir()
    shutil.copytree(root / "detectron2", tree / "detectron2")
    apply_patches(tree / "detectron2")
    (tree / "pyproject.toml").write_text(PYPROJECT)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="reinstall even if importable")
    args = parser.parse_args()
    if detectron2_importable() and not args.force:
        import detectron2

        print(f"Using the installed Detectron2 {detectron2.__version__} ({detectron2.__file__})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tree = build_tree(download_sdist(tmp), tmp)
        subprocess.check_call(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-build-isolation", str(tree)]
        )
    print(f"Installed Detectron2 {VERSION} (Python sources of v0.6, no compiled ops)")


if __name__ == "__main__":
    main()
