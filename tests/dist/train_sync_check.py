"""Run under torchrun by tests/test_engine/test_distributed.py: a real
2-process training run of the tiny config (the path it is given) through
MMEngine's Runner (``launcher='pytorch'``), then every rank reports a
checksum of its weights to rank 0, which writes them to
``<work_dir>/ranks.json``.
"""
import json
import os.path as osp
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.runner import Runner


def main(work_dir: str, config: str) -> None:
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.launcher = 'pytorch'
    cfg.train_cfg.max_epochs = 3
    cfg.train_cfg.val_interval = 3
    cfg.default_hooks.checkpoint.interval = 3
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model.module
    checksum = sum(
        float(param.detach().double().sum()) * (index + 1)
        for index, param in enumerate(model.parameters()))
    sums = [None] * dist.get_world_size()
    dist.all_gather_object(
        sums,
        dict(
            rank=dist.get_rank(),
            checksum=checksum,
            backend=dist.get_backend()))
    if dist.get_rank() == 0:
        with open(osp.join(work_dir, 'ranks.json'), 'w') as f:
            json.dump(sums, f)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
