"""dev/benchmark_train_step.py: times training steps of a config's model on a loader batch."""
import os
import re
import subprocess
import sys

from df2s2_d2.data import generate_synthetic_dataset
from tests.common import REPO


def test_times_steps_on_a_batch_of_the_config_and_names_the_code_it_ran(tmp_path):
    generate_synthetic_dataset(str(tmp_path / "synth_faces"), num_train=4, num_val=2, seed=0, image_size=160)
    env = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path))
    out = subprocess.run(
        [sys.executable, str(REPO / "dev/benchmark_train_step.py"), "--threads", "1", "--steps", "3",
         "--repo", str(REPO), "SOLVER.IMS_PER_BATCH", "2", "INPUT.FACE_AUG.TRAIN_SIZE", "128",
         "DATALOADER.NUM_WORKERS", "0", "MODEL.RETINANET.NUM_CONVS", "1"],
        capture_output=True, text=True, env=env, timeout=300, check=True).stdout
    match = re.search(r"^(.+): (\d+) images, median step ([0-9.]+) s over 1 steps \(1 threads\)$", out, re.M)
    assert match, out
    assert match.group(1) == str(REPO) and match.group(2) == "2" and float(match.group(3)) > 0
