"""onnxruntime against PyTorch eager: images per second on the CPU.

For PromptPose (ResNet-50, ViT-B/16) and their SimpleBaseline twins, with
random weights, exports each model once (tools/deployment's export, into
--work-dir, reused) and then times in one run, interleaved, PyTorch eager
and onnxruntime on the same image-to-heatmaps computation (no flip test;
eager is ``FoldedPoseModel`` under ``torch.inference_mode``, the PromptPose
prompts cached as at inference) on random 256x256 crops: every repeat times
each (model, backend, batch size) once in turn, so that drift of the machine
hits all of them alike. Prints a Markdown table of the median images/s and
the speed-up, and the machine::

    python tools/analysis/onnx_speed.py [--models promptpose-rn50 ...] \\
        [--batch-sizes 1 16] [--repeats 5] [--work-dir work_dirs/onnx_speed]
"""
import argparse
import os.path as osp
import time
from typing import Dict, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS = {
    'promptpose-rn50':
    'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py',
    'simplebaseline-rn50': 'td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py',
    'promptpose-vit-b16':
    'td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py',
    'simplebaseline-vit-b16': 'td-hm_clip-vit-b16_8xb16-210e_ap10k-256x256.py',
}
# the tiny CPU pair, for a quick look (not run by default)
TINY = {
    'promptpose-tiny':
    'td-hm_promptpose-tiny-clip-rn_1xb2-500e_ap10k-256x256.py',
    'simplebaseline-tiny': 'td-hm_clip-tiny-rn_1xb2-500e_ap10k-256x256.py',
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from promptpose_mm.apis import cli
    parser = cli.tool_parser(__doc__)
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODELS) + list(TINY),
        default=list(MODELS))
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 16])
    parser.add_argument(
        '--repeats', type=int, default=5, help='timed rounds (5)')
    parser.add_argument(
        '--seconds',
        type=float,
        default=2.0,
        help='a timing runs the model until this many seconds pass (2)')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/onnx_speed',
        help='where the exported files go (reused)')
    return parser.parse_args(argv)


def images_per_second(run, batch: int, seconds: float) -> float:
    """Images/s of ``run()`` (one batch), called until ``seconds`` pass
    (at least once)."""
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * batch / elapsed


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    import numpy as np
    import onnxruntime as ort
    import torch
    from tqdm import tqdm

    from promptpose_mm.analysis.benchmark import (describe_machine,
                                                  markdown_table)
    from promptpose_mm.apis import build_inference_model
    from promptpose_mm.deployment import FoldedPoseModel, export_onnx
    from promptpose_mm.deployment.onnx_export import input_size_of
    runners: Dict[tuple, object] = {}
    sizes = {}
    for name in args.models:
        torch.manual_seed(0)
        model = build_inference_model(
            osp.join(ROOT, 'configs', 'promptpose', {
                **MODELS,
                **TINY
            }[name]))
        width, height = input_size_of(model.cfg)
        onnx_file = osp.join(args.work_dir, f'{name}.onnx')
        if not osp.isfile(onnx_file):
            export_onnx(model, onnx_file, (width, height))
        sizes[name] = osp.getsize(onnx_file)
        folded = FoldedPoseModel(model)
        session = ort.InferenceSession(
            onnx_file, providers=['CPUExecutionProvider'])
        for batch in args.batch_sizes:
            crops = torch.randn(batch, 3, height, width)
            array = crops.numpy()

            def eager(folded=folded, crops=crops):
                with torch.inference_mode():
                    folded(crops)

            def onnxruntime(session=session, array=array):
                session.run(None, {'input': array})

            for backend, run in (('eager', eager), ('onnxruntime',
                                                    onnxruntime)):
                run()  # warm-up
                runners[name, batch, backend] = run
    results = {key: [] for key in runners}
    for _ in tqdm(range(args.repeats), desc='rounds'):
        for (name, batch, backend), run in runners.items():
            results[name, batch, backend].append(
                images_per_second(run, batch, args.seconds))
    rows = []
    for name in args.models:
        for batch in args.batch_sizes:
            eager = float(np.median(results[name, batch, 'eager']))
            fast = float(np.median(results[name, batch, 'onnxruntime']))
            rows.append([
                name,
                str(batch), f'{eager:.2f}', f'{fast:.2f}',
                f'{fast / eager:.2f}x', f'{sizes[name] / 2**20:.0f}'
            ])
    table = '\n'.join(
        markdown_table([
            'model', 'batch', 'eager img/s', 'onnxruntime img/s', 'speed-up',
            '.onnx MiB'
        ], rows))
    print(table)
    print(f'{describe_machine("cpu")}; onnxruntime {ort.__version__} '
          f'({ort.get_device()}); median of {args.repeats} interleaved '
          'rounds, no flip test, random weights')
    return table


if __name__ == '__main__':
    main()
