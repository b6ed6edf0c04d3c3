"""train_net.py end to end on a tiny synthetic set: train, evaluate, resume, two processes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from detectron2.data import DatasetCatalog
from detectron2.engine import HookBase, launch

from df2s2_d2.data import generate_synthetic_dataset, in_subset, register_wider_face_layout
from tests.common import REPO, get_config

TINY = ["MODEL.FFP.OUT_CHANNELS", 16, "MODEL.FFP.NORM", "", "MODEL.RETINANET.NUM_CONVS", 1,
        "INPUT.FACE_AUG.TRAIN_SIZE", 128, "INPUT.MIN_SIZE_TEST", 128, "INPUT.MAX_SIZE_TEST", 160,
        "SOLVER.IMS_PER_BATCH", 2, "SOLVER.WARMUP_ITERS", 2, "SOLVER.BASE_LR", 0.005,
        "DATALOADER.NUM_WORKERS", 0, "TEST.DETECTIONS_PER_IMAGE", 50]


@pytest.fixture(scope="module")
def tiny_faces(tmp_path_factory):
    """A tiny synthetic set in the WIDER FACE layout, registered as tiny_faces_{train,val}."""
    root = tmp_path_factory.mktemp("datasets")
    images = generate_synthetic_dataset(
        str(root / "synth_faces"), num_train=6, num_val=3, seed=3, image_size=160)
    # Every evaluation subset has faces, so each AP is a number (0/0 recall is NaN).
    assert all(any(in_subset(f, s) for _, _, faces in images["val"] for f in faces)
               for s in ("easy", "medium", "hard"))
    register_tiny(str(root / "synth_faces"))
    return root


def register_tiny(root):
    for split in ("train", "val"):
        if f"tiny_faces_{split}" not in DatasetCatalog.list():
            register_wider_face_layout(f"tiny_faces_{split}", root, split)


def tiny_cfg(output_dir, max_iter, opts=()):
    return get_config("Synth/df2s2_R_18_quick.yaml", [
        *TINY, "DATASETS.TRAIN", "('tiny_faces_train',)", "DATASETS.TEST", "('tiny_faces_val',)",
        "SOLVER.MAX_ITER", max_iter, "SOLVER.STEPS", f"({max_iter // 2}, {max_iter - 1})", "OUTPUT_DIR", str(output_dir), *opts])


def test_train_net_trains_and_evaluates_end_to_end(tiny_faces, tmp_path):
    cmd = [sys.executable, str(REPO / "train_net.py"), "--config-file",
           str(REPO / "configs/Synth/df2s2_R_18_quick.yaml"), *map(str, TINY),
           "SOLVER.MAX_ITER", "3", "OUTPUT_DIR", str(tmp_path), "MODEL.DEVICE", "cpu"]
    env = {"DETECTRON2_DATASETS": str(tiny_faces), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(cmd, check=True, env=env, cwd=tmp_path, capture_output=True)
    assert (tmp_path / "model_final.pth").exists()
    rows = [json.loads(x) for x in (tmp_path / "metrics.json").read_text().splitlines()]
    assert [r["iteration"] for r in rows if "total_loss" in r][-1] == 2
    final = [r for r in rows if "wider_face/AP_easy" in r][-1]
    assert all(0.0 <= final[f"wider_face/AP_{k}"] <= 100.0 for k in ("easy", "medium", "hard"))
    inference = tmp_path / "inference" / "synth_faces_val"
    assert (inference / "wider_face_pr_curves.png").exists()
    assert len(list((inference / "wider_face_predictions").rglob("*.txt"))) == 3


class RecordLR(HookBase):
    """Learning rate and iteration seen before each step."""

    def __init__(self):
        self.seen = {}

    def before_step(self):
        self.seen[self.trainer.iter] = self.trainer.optimizer.param_groups[0]["lr"]


def test_resume_continues_at_the_same_iteration_lr_and_optimizer_state(tiny_faces, tmp_path):
    from train_net import Trainer

    full = Trainer(tiny_cfg(tmp_path / "full", 6, ["SOLVER.CHECKPOINT_PERIOD", 3]))
    full_lr = RecordLR()
    full.register_hooks([full_lr])
    full.resume_or_load(resume=False)
    full.train()

    # An interruption after the checkpoint at iteration 3: only model_0000002.pth is left.
    run = tmp_path / "full"
    (run / "model_final.pth").unlink()
    (run / "last_checkpoint").write_text("model_0000002.pth")
    saved = torch.load(run / "model_0000002.pth", weights_only=False)

    resumed = Trainer(tiny_cfg(run, 6, ["SOLVER.CHECKPOINT_PERIOD", 3]))
    resumed_lr = RecordLR()
    resumed.register_hooks([resumed_lr])
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 3
    state = resumed.optimizer.state_dict()["state"]
    saved_state = saved["trainer"]["_trainer"]["optimizer"]["state"]
    assert saved_state  # momentum buffers were checkpointed
    for key, value in saved_state.items():
        assert torch.equal(state[key]["momentum_buffer"], value["momentum_buffer"])
    resumed.train()
    assert sorted(resumed_lr.seen) == [3, 4, 5]
    assert resumed_lr.seen == {i: full_lr.seen[i] for i in (3, 4, 5)}
    assert full_lr.seen[3] != full_lr.seen[2]  # the schedule's step at 3 is in between


def _two_process_worker(root, out_dir):
    from detectron2.utils import comm

    import train_net
    from train_net import Trainer

    register_tiny(root)
    trainer = Trainer(tiny_cfg(out_dir, 3))
    trainer.resume_or_load(resume=False)
    trainer.train()
    model = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
    rank = comm.get_rank()
    torch.save(model.state_dict(), f"{out_dir}/rank{rank}.pt")
    train_net.close_process_group()
    Path(f"{out_dir}/rank{rank}.closed").write_text(str(not torch.distributed.is_initialized()))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks multi-process training on the CPU")
def test_two_process_cpu_training_keeps_one_model(tiny_faces, tmp_path):
    launch(_two_process_worker, 2, dist_url="auto", args=(str(tiny_faces / "synth_faces"), str(tmp_path)))
    # Both processes closed the process group before exiting.
    assert [(tmp_path / f"rank{r}.closed").read_text() for r in (0, 1)] == ["True", "True"]
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    assert rank0.keys() == rank1.keys()
    for k in rank0:
        assert torch.equal(rank0[k], rank1[k]), k


def test_trainer_watches_the_loss_and_trains_on_the_seeded_loader(tiny_faces, tmp_path):
    from df2s2_d2.loss_watch import LossRiseWarning
    from train_net import Trainer

    register_tiny(str(tiny_faces / "synth_faces"))
    trainer = Trainer(tiny_cfg(tmp_path, 3))
    watch = [h for h in trainer._hooks if isinstance(h, LossRiseWarning)]
    assert len(watch) == 1 and watch[0].warmup_iters == trainer.cfg.SOLVER.WARMUP_ITERS
    assert type(trainer.data_loader.dataset).__name__ == "SeededBatches"


def train_net_args(output_dir, *args, opts=()):
    from detectron2.engine import default_argument_parser

    return default_argument_parser().parse_args([
        "--config-file", str(REPO / "configs/Synth/df2s2_R_18_quick.yaml"), *args,
        *map(str, TINY), "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(output_dir), *map(str, opts),
    ])


def test_an_output_dir_that_is_a_file_is_refused_before_anything_is_written(tmp_path):
    import train_net
    from df2s2_deploy.output_paths import OutputPathError

    existing = tmp_path / "notes.txt"
    existing.write_text("keep me\n\n")  # 9 bytes: Detectron2 would append its log to them
    with pytest.raises(OutputPathError, match=rf"^{existing}: OUTPUT_DIR exists and is not a folder"):
        train_net.main(train_net_args(existing, "--eval-only"))
    assert existing.read_bytes() == b"keep me\n\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"), (b"not weights", "not a checkpoint"), (None, "truncated"),
])
def test_eval_only_with_unloadable_weights_is_an_error_naming_them(tmp_path, content, message):
    import train_net
    from df2s2_d2.checkpoint import CheckpointFileError
    from tests.data.bad_input import file_digests

    weights = tmp_path / "weights" / "model.pth"
    weights.parent.mkdir()
    if content is None:
        torch.save({"model": {"w": torch.zeros(100)}}, weights)
        content = weights.read_bytes()[:300]
    weights.write_bytes(content)
    before = file_digests(weights)
    with pytest.raises(CheckpointFileError, match=rf"^{weights}: {message}.*MODEL.WEIGHTS"):
        train_net.main(train_net_args(tmp_path / "out", "--eval-only", opts=["MODEL.WEIGHTS", weights]))
    assert file_digests(weights) == before


def test_resume_with_a_last_checkpoint_naming_a_truncated_file_names_both(tiny_faces, tmp_path):
    import train_net
    from df2s2_d2.checkpoint import CheckpointFileError
    from tests.data.bad_input import file_digests

    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": {"w": torch.zeros(100)}}, run / "model_0000009.pth")
    (run / "model_0000009.pth").write_bytes((run / "model_0000009.pth").read_bytes()[:200])
    (run / "last_checkpoint").write_text("model_0000009.pth")
    before = file_digests(run)
    expected = rf"{run}/model_0000009.pth: truncated .*named by {run}/last_checkpoint"
    with pytest.raises(CheckpointFileError, match=expected):
        train_net.main(train_net_args(run, "--eval-only", "--resume"))
    trainer = train_net.Trainer(tiny_cfg(run, 4))
    with pytest.raises(CheckpointFileError, match=expected):
        trainer.resume_or_load(resume=True)
    after = file_digests(run)
    assert {k: after[k] for k in before} == before


def test_eval_only_with_tta_runs_on_a_landmark_model(tiny_faces, tmp_path, monkeypatch):
    import train_net
    from df2s2_d2.modeling.test_time_augmentation import DF2S2WithTTA

    seen = []

    class RecordingTTA(DF2S2WithTTA):
        def forward(self, batched_inputs):
            outputs = super().forward(batched_inputs)
            seen.extend(output["instances"] for output in outputs)
            return outputs

    monkeypatch.setattr(train_net, "DF2S2WithTTA", RecordingTTA)
    register_tiny(str(tiny_faces / "synth_faces"))
    opts = ["MODEL.DF2S2.LANDMARKS", True, "DATASETS.TEST", "('tiny_faces_val',)",
            "TEST.AUG.ENABLED", True, "TEST.AUG.MIN_SIZES", "(96, 128)", "TEST.AUG.MAX_SIZE", 160]
    results = train_net.main(train_net_args(tmp_path, "--eval-only", opts=opts))
    assert all(0.0 <= results["wider_face_TTA"][f"AP_{k}"] <= 100.0 for k in ("easy", "medium", "hard"))
    # every image's merged detections carry their landmarks
    assert len(seen) == 3 and sum(len(x) for x in seen) > 0
    assert all(x.pred_keypoints.shape == (len(x), 5, 3) for x in seen)
