import os
from pathlib import Path

import pytest
import torch

# Tests share two cores with whatever else runs: one thread keeps them predictable.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def wider_face_annotations() -> Path:
    """The real WIDER FACE annotation folder (no images), from $WIDER_FACE_ANNOTATIONS."""
    root = os.environ.get("WIDER_FACE_ANNOTATIONS")
    if not root or not Path(root).is_dir():
        pytest.skip("WIDER_FACE_ANNOTATIONS is not set to the WIDER FACE annotation folder")
    return Path(root)
