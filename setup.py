#!/usr/bin/env python
"""df2s2_d2: the DF2S2 face detector as a Detectron2 extension.

Detectron2 is not on PyPI, so it is not listed below: `make setup` installs it
(install/detectron2_fallback.py) unless an importable build is already present.
"""
from setuptools import find_packages, setup

setup(
    name="df2s2_d2",
    version="0.1.0",
    description="DF2S2 (Detection with Feature Fusion and Segmentation Supervision) "
    "face detector for Detectron2",
    # df2s2_deploy: the torch-free runtime and WIDER FACE evaluation (numpy, scipy, onnxruntime).
    packages=find_packages(include=["df2s2_d2", "df2s2_d2.*", "df2s2_deploy", "df2s2_deploy.*"]),
    python_requires=">=3.9",
    install_requires=[
        "torch>=1.10",
        "torchvision",
        "numpy",
        "scipy",
        "opencv-python-headless",
        "Pillow>=10.3",
        "matplotlib",
        "pycocotools",
        # its skimage/data files: the real face crops and backgrounds of the photo-like set
        "scikit-image",
        "fvcore>=0.1.5,<0.1.6",
        "iopath>=0.1.7,<0.1.10",
        "yacs",
        "termcolor",
        "tabulate",
        "cloudpickle",
        "tqdm",
        "tensorboard",
        "omegaconf>=2.1",
        "hydra-core>=1.1",
        "black",
        "pydot",
    ],
    extras_require={
        "dev": ["pytest", "onnx", "onnxruntime"],
        # what df2s2_deploy's detector needs (its evaluation needs only numpy and scipy)
        "deploy": ["onnxruntime"],
    },
    entry_points={
        "console_scripts": [
            "df2s2-detect = df2s2_deploy.detect:main",
            "wider-face-eval = df2s2_deploy.evaluation.wider_face:main",
        ]
    },
)
