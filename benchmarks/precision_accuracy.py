"""Accuracy kept in a reduced precision: one checkpoint, two precisions.

Runs a trained checkpoint over its config's test set (the labelled
validation frames of an imported project, say) in float32 and in a reduced
precision, and prints, per precision, the config's own metrics (COCO AP,
PCK, EPE, whichever it evaluates) and, between the two, the median and
largest keypoint difference in pixels and the heatmap difference (largest
and median absolute difference, as a share of each heatmap's range), with
the machine.

Usage::

    python benchmarks/precision_accuracy.py CONFIG CHECKPOINT \\
        [--precision bfloat16] [--batch-size 16] [--device cpu]
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


class Evaluation(NamedTuple):
    """One precision's pass over the test set.

    Attributes:
        metrics (dict): the config's evaluators' results.
        keypoints (np.ndarray): ``(N, K, 2)`` predicted keypoints (image
            pixels), one row per test instance.
        heatmaps (np.ndarray): ``(N, K, h, w)`` the decoded heatmaps.
    """
    metrics: Dict[str, float]
    keypoints: np.ndarray
    heatmaps: np.ndarray


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help="the trained model's config")
    parser.add_argument('checkpoint', help='its weights (.pth)')
    parser.add_argument(
        '--precision',
        default='bfloat16',
        choices=('bfloat16', 'float16'),
        help='the reduced precision to compare with float32 (bfloat16)')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def evaluate(config: str,
             checkpoint: str,
             precision: str,
             batch_size: int = 16,
             device: str = 'cpu') -> Evaluation:
    """The checkpoint over its config's test set in ``precision``."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    from torch.utils.data import DataLoader

    from promptpose_mm.apis import init_model
    model = init_model(
        config,
        checkpoint,
        device=device,
        precision=precision,
        cfg_options=dict(model=dict(test_cfg=dict(output_heatmaps=True))))
    cfg = model.cfg
    init_default_scope('mmpose')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    loader = DataLoader(
        dataset, batch_size=batch_size, collate_fn=pseudo_collate)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    keypoints: List[np.ndarray] = []
    heatmaps: List[np.ndarray] = []
    with torch.no_grad():
        for batch in loader:
            outputs = model.test_step(batch)
            evaluator.process(outputs, batch)
            for sample in outputs:
                keypoints.append(np.asarray(sample.pred_instances.keypoints))
                heatmaps.append(
                    sample.pred_fields.heatmaps.float().cpu().numpy()[None])
    metrics = evaluator.evaluate(len(dataset))
    return Evaluation(metrics, np.concatenate(keypoints),
                      np.concatenate(heatmaps))


def differences(reference: Evaluation, other: Evaluation) -> Dict[str, float]:
    """Keypoint distances (pixels) and heatmap differences (share of each
    heatmap's range) between two evaluations of the same instances."""
    distance = np.linalg.norm(other.keypoints - reference.keypoints, axis=-1)
    span = (reference.heatmaps.max(axis=(2, 3)) -
            reference.heatmaps.min(axis=(2, 3)))[..., None, None]
    heat = np.abs(other.heatmaps - reference.heatmaps) / np.maximum(
        span, 1e-12)
    return {
        'keypoint difference px, median': float(np.median(distance)),
        'keypoint difference px, largest': float(distance.max()),
        'heatmap difference, median (share of range)': float(np.median(heat)),
        'heatmap difference, largest (share of range)': float(heat.max()),
    }


def format_report(results: Dict[str, Evaluation], machine: str) -> str:
    """The metrics of each precision and their differences as markdown."""
    from promptpose_mm.utils.tables import markdown_table
    names = list(results)
    keys = [key for key in results[names[0]].metrics]
    rows = [[key] + [f'{results[name].metrics[key]:.4f}' for name in names]
            for key in keys]
    lines = markdown_table(['metric'] + names, rows)
    diff = differences(results[names[0]], results[names[1]])
    rows = [[key, f'{value:.4f}'] for key, value in diff.items()]
    lines += [''] + markdown_table([f'{names[1]} against {names[0]}', 'value'],
                                   rows)
    return '\n'.join(lines + ['', f'machine: {machine}'])


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    import promptpose_mm  # noqa: F401  (registers the plugin)
    from benchmarks.speed import describe_machine
    results = {
        precision:
        evaluate(args.config, args.checkpoint, precision, args.batch_size,
                 args.device)
        for precision in ('float32', args.precision)
    }
    report = format_report(results, describe_machine(args.device))
    print(report)
    return report


if __name__ == '__main__':
    main()
