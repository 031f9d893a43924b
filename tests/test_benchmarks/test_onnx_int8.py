"""The int8 export benchmark on the tiny config (random weights): the
quantised file is int8, keeps the metadata, and both exports are
evaluated next to the checkpoint."""
import os.path as osp

import pytest

from benchmarks.onnx_int8 import main
from tests.paths import TINY


@pytest.mark.slow
def test_tiny_config_quantised_and_compared(random_checkpoint, tmp_path):
    import onnx
    checkpoint = random_checkpoint(TINY, str(tmp_path / 'model.pth'))
    work = str(tmp_path / 'work')
    report = main([
        TINY, checkpoint, '--calibration', '4', '--batch-sizes', '1', '2',
        '--repeats', '1', '--work-dir', work
    ])
    int8 = onnx.load(osp.join(work, 'model_int8.onnx'))
    float32 = onnx.load(osp.join(work, 'model_float32.onnx'))
    ops = {node.op_type for node in int8.graph.node}
    assert {'QuantizeLinear', 'DequantizeLinear'} <= ops
    weights = [
        t for t in int8.graph.initializer
        if t.data_type == onnx.TensorProto.INT8
    ]
    assert weights  # the convolution weights are stored as int8
    assert {
        p.key: p.value
        for p in int8.metadata_props
    } == {
        p.key: p.value
        for p in float32.metadata_props
    }
    lines = report.splitlines()
    rows = [line for line in lines if line.startswith('| ')]
    backends = {row.split('|')[1].strip() for row in rows[:9]}
    assert {'PyTorch float32', 'onnxruntime float32',
            'onnxruntime int8'} <= backends
    ap = next(line for line in lines if line.startswith('| coco/AP '))
    torch_ap, onnx_ap, int8_ap = (float(v) for v in ap.split('|')[2:5])
    # the float32 export computes what the checkpoint does
    assert onnx_ap == pytest.approx(torch_ap, abs=1e-3)
    assert 0 <= int8_ap <= 1
    assert 'int8 against float32 onnxruntime' in report
