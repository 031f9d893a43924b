"""``make demo``'s script, shortened: the tiny model trains on the bundled
AP-10K samples, its AP rises above the untrained model's, and it writes its
checkpoint, metrics and pictures."""
import json
import os.path as osp

import pytest

from tests.paths import load_tool


@pytest.mark.slow  # trains the tiny model for 150 steps
def test_demo_trains_and_improves(tmp_path):
    work_dir = str(tmp_path / 'demo')
    result = load_tool('demo.py').main(
        ['--work-dir', work_dir, '--epochs', '150'])
    before, after = result['untrained'], result['trained']
    assert after['coco/AP'] > before['coco/AP'] + 0.1
    assert 0.0 <= before['coco/AP'] < 0.2
    assert osp.isfile(osp.join(work_dir, 'epoch_150.pth'))
    with open(osp.join(work_dir, 'metrics.json')) as f:
        assert json.load(f)['trained']['coco/AP'] == after['coco/AP']
    # per bundled image: the predicted pose and the prompts' score maps
    assert sorted(osp.basename(p) for p in result['pictures']) == [
        '000000000004_pose.jpg', '000000000004_score_maps.png',
        '000000037516_pose.jpg', '000000037516_score_maps.png'
    ]
    assert all(osp.getsize(path) > 10_000 for path in result['pictures'])
