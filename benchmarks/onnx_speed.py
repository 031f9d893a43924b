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

    python benchmarks/onnx_speed.py [--models promptpose-rn50 ...] \\
        [--batch-sizes 1 16] [--repeats 5] [--work-dir work_dirs/onnx_speed]

The table also gives each graph's arithmetic (multiply-accumulates of its
products and convolutions, counted from the exported file) and its float32
limit: the images/s if every multiply-accumulate ran at the best float32
matrix-product rate measured on this machine (PyTorch's and onnxruntime's,
operands in cache) and nothing else took time: "limit / eager" is about
the most speed-up a float32 backend can give here (the rate is itself a
measurement).
As training does, freed CPU memory is kept for the next call
(``--default-malloc``: the C library's default).
"""
import argparse
import os.path as osp
import sys
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)
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
    from tools import cli
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
    cli.add_default_malloc(parser)
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


def best_seconds(run: Callable[[], object], repeats: int = 5) -> float:
    """The shortest of ``repeats`` timed calls of ``run``, after one."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


# (M, K, N): square, and a ViT-B/16 MLP layer at 256x256 (257 tokens)
PEAK_SHAPES = ((2048, 2048, 2048), (257, 768, 3072))


def float32_matmul_peak() -> Tuple[float, str]:
    """The best float32 matrix-product rate on this machine, in GMAC/s:
    ``torch.mm`` and an onnxruntime ``MatMul`` (constant weight) on
    :data:`PEAK_SHAPES`, the operands hot in cache, best of 5 calls.

    Returns:
        tuple: the rate and where it was measured (``'onnxruntime 2048x2048
        by 2048x2048'``).
    """
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper
    best = (0.0, '')
    for m, k, n in PEAK_SHAPES:
        a, b = torch.randn(m, k), torch.randn(k, n)
        graph = helper.make_graph(
            [helper.make_node('MatMul', ['a', 'b'], ['c'])], 'matmul',
            [helper.make_tensor_value_info('a', TensorProto.FLOAT, [m, k])],
            [helper.make_tensor_value_info('c', TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(b.numpy(), 'b')])
        # IR version 9: what onnxruntime 1.17 and later read
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid('', 18)], ir_version=9)
        session = ort.InferenceSession(
            model.SerializeToString(), providers=['CPUExecutionProvider'])
        feed = {'a': np.ascontiguousarray(a.numpy())}
        for backend, run in (('torch.mm', lambda: torch.mm(a, b)),
                             ('onnxruntime', lambda: session.run(None, feed))):
            rate = m * k * n / best_seconds(run) / 1e9
            if rate > best[0]:
                best = (rate, f'{backend} {m}x{k} by {k}x{n}')
    return best


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    from tools.cli import keep_freed_memory
    keep_freed_memory(args)
    import numpy as np
    import onnxruntime as ort
    import torch
    from tqdm import tqdm

    from benchmarks.arithmetic import onnx_macs
    from benchmarks.speed import describe_machine, markdown_table
    from promptpose_mm.apis import build_inference_model
    from promptpose_mm.deployment import FoldedPoseModel, export_onnx
    from promptpose_mm.deployment.onnx_export import input_size_of
    runners: Dict[tuple, object] = {}
    sizes, gmacs = {}, {}
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
        gmacs[name] = sum(onnx_macs(onnx_file).values()) / 1e9
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
    peak, peak_where = float32_matmul_peak()
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
            limit = peak / gmacs[name]
            rows.append([
                name,
                str(batch), f'{gmacs[name]:.2f}', f'{eager:.2f}',
                f'{fast:.2f}', f'{fast / eager:.2f}x', f'{limit:.2f}',
                f'{limit / eager:.2f}x', f'{sizes[name] / 2**20:.0f}'
            ])
    table = '\n'.join(
        markdown_table([
            'model', 'batch', 'GMAC/img', 'eager img/s', 'onnxruntime img/s',
            'speed-up', 'float32 limit img/s', 'limit / eager', '.onnx MiB'
        ], rows))
    print(table)
    print(f'{describe_machine("cpu")}; onnxruntime {ort.__version__} '
          f'({ort.get_device()}); median of {args.repeats} interleaved '
          'rounds, no flip test, random weights; float32 limit at '
          f'{peak:.1f} GMAC/s ({peak_where})')
    return table


if __name__ == '__main__':
    main()
