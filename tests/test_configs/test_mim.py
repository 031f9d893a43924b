"""``mim train mmpose`` / ``mim test mmpose`` drive the plugin's configs from
any working directory: custom_imports, --cfg-options, --auto-scale-lr,
save_best, --checkpoint (load_from) and --resume.
"""
import glob
import os.path as osp

import pytest

from tests.paths import TINY

pytestmark = pytest.mark.slow  # mim train / mim test runs


def test_mim_train_test_resume_from_another_directory(tmp_path, mim):
    work_dir = str(tmp_path / 'work')

    def run(command, *args):
        # from tmp_path, not the repository: configs are found by path
        return mim(command, 'mmpose', TINY, *args, cwd=str(tmp_path))

    out = run('train', '--work-dir', work_dir, '--auto-scale-lr',
              '--cfg-options', 'train_cfg.max_epochs=2',
              'train_cfg.val_interval=1',
              'default_hooks.checkpoint.interval=1')
    assert 'Training finished successfully' in out
    assert 'LR is set based on batch size of 2' in open(
        glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    # save_best='coco/AP' from the config
    assert glob.glob(osp.join(work_dir, 'best_coco_AP_epoch_*.pth'))

    out = run('test', '--checkpoint', osp.join(work_dir, 'epoch_2.pth'),
              '--work-dir', str(tmp_path / 'test'))
    assert 'Load checkpoint from' in out and 'coco/AP:' in out

    out = run('train', '--work-dir', work_dir, '--resume', '--cfg-options',
              'train_cfg.max_epochs=3', 'train_cfg.val_interval=3')
    assert 'resumed epoch: 2, iter: 2' in out
    assert osp.isfile(osp.join(work_dir, 'epoch_3.pth'))
