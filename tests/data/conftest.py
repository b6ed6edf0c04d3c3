import pytest

from df2s2_d2.data import generate_synthetic_dataset

TINY_IMAGE_SIZE = 128


@pytest.fixture(scope="session")
def tiny_image_size():
    """Long side of the images of ``tiny_synthetic``."""
    return TINY_IMAGE_SIZE


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """(root, {"train": images, "val": images}) of a tiny synthetic WIDER-layout data set."""
    root = tmp_path_factory.mktemp("synth_faces")
    images = generate_synthetic_dataset(
        str(root), num_train=4, num_val=8, seed=3, image_size=TINY_IMAGE_SIZE
    )
    return root, images
