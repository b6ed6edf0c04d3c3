"""The deploy runtime and the WIDER FACE evaluation import neither torch nor Detectron2."""
import json
import subprocess
import sys

HEAVY = ("torch", "torchvision", "detectron2", "df2s2_d2", "matplotlib")


def imported_modules(code: str) -> list:
    """Top-level names of the modules a fresh interpreter has after running `code`."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_importing_the_runtime_and_the_evaluation_imports_no_torch():
    modules = imported_modules(
        "import df2s2_deploy, df2s2_deploy.onnx_detector, df2s2_deploy.detect, df2s2_deploy.quantization\n"
        "import df2s2_deploy.cpu_info\n"
        "import df2s2_deploy.evaluation.wider_face\n"
        "from df2s2_deploy import OnnxFaceDetector, Detections"
    )
    assert "PIL" in modules and "numpy" in modules  # the probe sees real imports
    assert not set(HEAVY) & set(modules)


def test_the_evaluation_imports_neither_onnxruntime_nor_opencv():
    modules = imported_modules("import df2s2_deploy.evaluation.wider_face")
    assert "scipy" in modules
    assert not set(HEAVY + ("onnxruntime", "cv2", "PIL")) & set(modules)
