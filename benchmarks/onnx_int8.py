"""int8 export: static quantisation calibrated on the lab's own frames,
against float32 onnxruntime and PyTorch (float32, bfloat16).

Exports a trained checkpoint to ONNX (float32, the prompts folded in),
quantises it with onnxruntime's static quantisation (QDQ, int8 weights per
channel, int8 activations, ranges calibrated on ``--calibration`` crops of
the config's training images, through its test pipeline), and prints two
tables with the machine:

- images per second of the image-to-heatmaps computation at each
  ``--batch-sizes`` (the test set's own crops, interleaved repeats, best
  of each): PyTorch float32 and bfloat16 (where the CPU has the units),
  onnxruntime float32 and int8;
- accuracy on the config's test set: its metrics for the float32
  checkpoint, the float32 export and the int8 export, and the int8
  keypoints' difference from float32 in pixels::

    python benchmarks/onnx_int8.py CONFIG CHECKPOINT \\
        [--calibration 64] [--batch-sizes 1 16] [--repeats 5] \\
        [--work-dir work_dirs/onnx_int8]
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help="the trained model's config")
    parser.add_argument('checkpoint', help='its weights (.pth)')
    parser.add_argument(
        '--calibration',
        type=int,
        default=64,
        help='training crops that calibrate the int8 ranges (64)')
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 16])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--work-dir', default='work_dirs/onnx_int8')
    args = parser.parse_args(argv)
    if args.calibration < 1:
        parser.error('--calibration must be >= 1')
    return args


def crops(cfg, split: str, count: Optional[int] = None) -> np.ndarray:
    """``(N, 3, H, W)`` float32 normalised crops of ``split``'s images
    (``'train'`` or ``'test'``) through the config's test pipeline and data
    preprocessor, as the model sees them at inference (at most
    ``count``)."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS
    init_default_scope('mmpose')
    dataset_cfg = dict(cfg[f'{split}_dataloader'].dataset)
    dataset_cfg.update(
        pipeline=cfg.test_dataloader.dataset.pipeline, test_mode=True)
    dataset = DATASETS.build(dataset_cfg)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    total = len(dataset) if count is None else min(count, len(dataset))
    batches = []
    for start in range(0, total, 16):
        samples = [dataset[i] for i in range(start, min(start + 16, total))]
        with torch.no_grad():
            data = preprocessor(pseudo_collate(samples), training=False)
        batches.append(data['inputs'].float().numpy())
    return np.ascontiguousarray(np.concatenate(batches))


def quantize(float_file: str, int8_file: str, calibration: np.ndarray) -> str:
    """Write ``float_file`` quantised to int8 (QDQ, weights per channel,
    MinMax ranges over ``calibration``), its metadata kept."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from promptpose_mm.deployment.onnx_export import INPUT_NAME

    class Reader(CalibrationDataReader):

        def __init__(self):
            self.items = iter(calibration[i:i + 1]
                              for i in range(len(calibration)))

        def get_next(self):
            item = next(self.items, None)
            return None if item is None else {INPUT_NAME: item}

    prepared = int8_file + '.prepared.onnx'
    # onnxruntime's symbolic shape inference fails on the folded graph;
    # ONNX's own shape inference suffices for quantisation
    quant_pre_process(float_file, prepared, skip_symbolic_shape=True)
    quantize_static(
        prepared,
        int8_file,
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8)
    os.remove(prepared)
    source, model = onnx.load(float_file), onnx.load(int8_file)
    del model.metadata_props[:]
    model.metadata_props.extend(source.metadata_props)
    onnx.save(model, int8_file)
    return int8_file


def speed_table(runs: Dict[str, object], inputs: np.ndarray,
                batch_sizes: Sequence[int], repeats: int) -> List[List[str]]:
    """Images/s of each ``runs[name](batch)`` at each batch size: every
    repeat times each (name, batch) once in turn; the best of each."""
    import time
    best: Dict[tuple, float] = {}
    batches = {
        size:
        np.ascontiguousarray(np.resize(inputs, (size, ) + inputs.shape[1:]))
        for size in batch_sizes
    }
    for name, run in runs.items():  # warm up
        for size in batch_sizes:
            run(batches[size])
    for _ in range(repeats):
        for size in batch_sizes:
            for name, run in runs.items():
                start = time.perf_counter()
                run(batches[size])
                rate = size / (time.perf_counter() - start)
                best[name, size] = max(best.get((name, size), 0.0), rate)
    rows = []
    for size in batch_sizes:
        reference = best[next(iter(runs)), size]
        for name in runs:
            rows.append([
                name,
                str(size), f'{best[name, size]:.2f}',
                f'{best[name, size] / reference:.2f}x'
            ])
    return rows


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    import onnxruntime as ort
    import torch

    import promptpose_mm  # noqa: F401  (registers the plugin)
    from benchmarks.precision_accuracy import differences, evaluate
    from benchmarks.speed import describe_machine
    from promptpose_mm.apis import init_model
    from promptpose_mm.deployment import export_onnx
    from promptpose_mm.deployment.folded import FoldedPoseModel
    from promptpose_mm.deployment.onnx_export import INPUT_NAME, input_size_of
    from promptpose_mm.utils.precision import autocast, cpu_bfloat16_units
    from promptpose_mm.utils.tables import markdown_table
    os.makedirs(args.work_dir, exist_ok=True)
    model = init_model(args.config, args.checkpoint, device='cpu')
    cfg = model.cfg
    float_file = osp.join(args.work_dir, 'model_float32.onnx')
    int8_file = osp.join(args.work_dir, 'model_int8.onnx')
    export_onnx(model, float_file, input_size_of(cfg))
    print(f'calibrating on {args.calibration} training crops', flush=True)
    quantize(float_file, int8_file, crops(cfg, 'train', args.calibration))

    folded = FoldedPoseModel(model).eval()
    sessions = {
        name: ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        for name, path in (('onnxruntime float32', float_file),
                           ('onnxruntime int8', int8_file))
    }

    def eager(batch, precision='float32'):
        with torch.inference_mode(), autocast(precision):
            return folded(torch.from_numpy(batch))

    runs = {'PyTorch float32': eager}
    if cpu_bfloat16_units():
        runs['PyTorch bfloat16'] = lambda b: eager(b, 'bfloat16')
    for name, session in sessions.items():
        runs[name] = (lambda s: lambda b: s.run(None, {INPUT_NAME: b}))(
            session)
    test = crops(cfg, 'test', 64)
    print('timing', flush=True)
    speed = speed_table(runs, test, args.batch_sizes, args.repeats)

    print('evaluating', flush=True)
    results = {
        'PyTorch float32': evaluate(args.config, args.checkpoint, 'float32'),
        'onnxruntime float32': evaluate(args.config, float_file, 'float32'),
        'onnxruntime int8': evaluate(args.config, int8_file, 'float32'),
    }
    names = list(results)
    keys = list(results[names[0]].metrics)
    accuracy = [[key] + [f'{results[n].metrics[key]:.4f}' for n in names]
                for key in keys]
    diff = differences(results['onnxruntime float32'],
                       results['onnxruntime int8'])
    lines = markdown_table(['backend', 'batch', 'images/s', 'against first'],
                           speed)
    lines += [''] + markdown_table(['metric'] + names, accuracy)
    lines += [''] + markdown_table(
        ['int8 against float32 onnxruntime', 'value'],
        [[key, f'{value:.4f}'] for key, value in diff.items()])
    lines += ['', f'machine: {describe_machine("cpu")}']
    report = '\n'.join(lines)
    print(report)
    return report


if __name__ == '__main__':
    main()
