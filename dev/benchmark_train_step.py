#!/usr/bin/env python
"""Time one training step (forward + backward + SGD) of a config's model on a real batch.

    python dev/benchmark_train_step.py [--config-file FILE] [--threads 2] [--steps 8]
        [--repo CHECKOUT] [KEY VALUE ...]

Takes one batch from ``train_net.Trainer``'s training loader (the face mapper, the
config's batch size and crop size) and times ``--steps`` steps on it, reporting the
median of all but the first two (warm-up). ``--repo`` times the ``train_net`` and
``df2s2_d2`` of another checkout (an older commit, say), imported in a child interpreter
that has the checkout first on ``PYTHONPATH``, so that two versions of the code can be
timed alternately on the same machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def time_steps(args):
    """Times the steps in this interpreter, which imports train_net and df2s2_d2 from --repo."""
    repo = os.path.abspath(args.repo)
    import torch
    from detectron2.engine import default_argument_parser
    from detectron2.utils.events import EventStorage
    from train_net import Trainer, setup

    torch.set_num_threads(args.threads)
    config = os.path.join(repo, args.config_file)
    cfg = setup(default_argument_parser().parse_args(["--config-file", config, *args.opts]))
    torch.manual_seed(0)
    model = Trainer.build_model(cfg)
    model.train()
    batch = next(iter(Trainer.build_train_loader(cfg)))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    times = []
    with EventStorage(0):
        for _ in range(args.steps):
            start = time.perf_counter()
            losses = model(batch)
            sum(losses.values()).backward()
            optimizer.step()
            optimizer.zero_grad()
            times.append(time.perf_counter() - start)
    import df2s2_d2

    print(f"{os.path.dirname(os.path.dirname(df2s2_d2.__file__))}: {len(batch)} images, median step {statistics.median(times[2:]):.3f} s "
          f"over {len(times) - 2} steps ({args.threads} threads)")


def main():
    if sys.argv[1:2] == ["--in-this-process"]:  # the child started below
        return time_steps(argparse.Namespace(**json.loads(sys.argv[2])))
    from df2s2_d2.argument_parser import config_argument_parser

    parser = config_argument_parser(__doc__.split("\n\n")[0],
                                    config_file_default="configs/Synth/df2s2_R_18_quick.yaml",
                                    config_file_help="path to a config file, relative to --repo")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = parser.parse_args()
    # The code to time is the checkout's: a child interpreter with --repo first on its path.
    repo = os.path.abspath(args.repo)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
    child = [sys.executable, os.path.abspath(__file__), "--in-this-process", json.dumps(vars(args))]
    sys.exit(subprocess.run(child, env=env).returncode)


if __name__ == "__main__":
    main()
