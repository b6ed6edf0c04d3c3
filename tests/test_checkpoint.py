"""Weights files that cannot be loaded give an error naming the file and what it is not;
good ones load through Detectron2's DetectionCheckpointer as before."""
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from df2s2_d2.checkpoint import CheckpointFileError, check_checkpoint_file, load_weights
from tests.data.bad_input import file_digests


def state():
    torch.manual_seed(0)
    return nn.Linear(3, 2).state_dict()


def bad_files(folder):
    """name -> (path, what the error says) of weights files that cannot be loaded."""
    good = folder / "good.pth"
    torch.save({"model": state()}, good)
    data = good.read_bytes()
    pkl = pickle.dumps({"model": {k: v.numpy() for k, v in state().items()}}, protocol=2)
    files = {
        "empty.pth": (b"", "empty file \\(0 bytes\\)"),
        "truncated.pth": (data[: len(data) // 2], "truncated or damaged PyTorch checkpoint"),
        "notes.pth": (b"these are not weights\n", "not a checkpoint"),
        "truncated.pkl": (pkl[: len(pkl) // 2], "truncated or damaged pickle"),
    }
    for name, (content, _) in files.items():
        (folder / name).write_bytes(content)
    return {name: (folder / name, message) for name, (_, message) in files.items()}


@pytest.mark.parametrize("name", ["empty.pth", "truncated.pth", "notes.pth", "truncated.pkl"])
def test_an_unloadable_file_is_an_error_naming_it_and_what_it_is_not(tmp_path, name):
    path, message = bad_files(tmp_path)[name]
    before = file_digests(tmp_path)
    with pytest.raises(CheckpointFileError, match=rf"^{path}: {message}.*expected a PyTorch checkpoint"):
        load_weights(nn.Linear(3, 2), str(path))
    assert file_digests(tmp_path) == before


def test_a_missing_file_is_named():
    with pytest.raises(FileNotFoundError, match="/no/such.pth: no such checkpoint file"):
        check_checkpoint_file("/no/such.pth")


def test_good_pth_and_pkl_files_load_through_detectron2(tmp_path):
    torch.save({"model": state()}, tmp_path / "good.pth")
    with open(tmp_path / "good.pkl", "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in state().items()}, "__author__": "tests"}, f, protocol=2)
    for name in ("good.pth", "good.pkl"):
        model = nn.Linear(3, 2)
        load_weights(model, str(tmp_path / name))
        np.testing.assert_array_equal(model.weight.detach().numpy(), state()["weight"].numpy())


def test_resuming_checks_the_file_last_checkpoint_names(tmp_path):
    bad_files(tmp_path)
    (tmp_path / "last_checkpoint").write_text("truncated.pth")
    torch.save({"model": state()}, tmp_path / "weights.pth")
    with pytest.raises(CheckpointFileError, match=rf"truncated.pth: truncated .*named by {tmp_path}/last_checkpoint"):
        load_weights(nn.Linear(3, 2), str(tmp_path / "weights.pth"), str(tmp_path), resume=True)
    load_weights(nn.Linear(3, 2), str(tmp_path / "weights.pth"), str(tmp_path), resume=False)
