"""benchmarks/precision_accuracy.py: the differences by hand, and a smoke
run on the tiny config's bundled test set (random weights)."""
import numpy as np
import pytest

from benchmarks.precision_accuracy import Evaluation, differences, main
from promptpose_mm.utils.precision import cpu_bfloat16_units
from tests.paths import TINY


def test_differences_by_hand():
    keypoints = np.zeros((2, 3, 2))
    moved = keypoints.copy()
    moved[0, 0] = (3., 4.)  # 5 px
    moved[1, 2] = (0., 1.)  # 1 px
    heatmaps = np.zeros((2, 3, 2, 2))
    heatmaps[..., 0, 0] = 2.  # every heatmap's range is 2
    changed = heatmaps.copy()
    changed[1, 1, 1, 1] = 0.5  # a quarter of its range
    diff = differences(
        Evaluation({}, keypoints, heatmaps), Evaluation({}, moved, changed))
    assert diff['keypoint difference px, median'] == 0.
    assert diff['keypoint difference px, largest'] == 5.
    assert diff['heatmap difference, largest (share of range)'] == 0.25
    assert diff['heatmap difference, median (share of range)'] == 0.


@pytest.mark.skipif(
    not cpu_bfloat16_units(), reason='this CPU has no bfloat16 units')
def test_tiny_config_in_both_precisions(random_checkpoint, tmp_path):
    checkpoint = random_checkpoint(TINY, str(tmp_path / 'model.pth'))
    report = main([TINY, checkpoint, '--batch-size', '2'])
    lines = report.splitlines()
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    assert header == ['metric', 'float32', 'bfloat16']
    ap = next(line for line in lines if line.startswith('| coco/AP '))
    float32, bfloat16 = (float(v) for v in ap.split('|')[2:4])
    assert 0 <= float32 <= 1 and 0 <= bfloat16 <= 1
    largest = next(line for line in lines
                   if 'heatmap difference, largest' in line)
    # reduced precision: not equal, and close
    assert 0 < float(largest.split('|')[2]) < 0.05
    assert 'avx512_bf16' in report or 'amx_bf16' in report
