"""Export a PromptPose (or any MMPose top-down heatmap) model to ONNX.

The image-independent prompts (text encoder, then prompt encoder) are
computed once and stored in the graph as constants: the exported file has no
text-encoder or prompt-encoder node, and holds only what inference runs.
Input ``input`` (B, 3, H, W), normalised crops; output ``heatmaps`` (B, K,
H/4, W/4); the batch is dynamic. The file is checked with onnx.checker and,
with --verify (default), run by onnxruntime against PyTorch. Then run it
with the usual tools, the .onnx file as the checkpoint::

    python tools/deployment/export_onnx.py CONFIG.py best.pth model.onnx
    python tools/inference.py dog.jpg --config CONFIG.py \\
        --checkpoint model.onnx --backend onnxruntime
    python tools/analyze_video.py session1.mp4 --config CONFIG.py \\
        --checkpoint model.onnx
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = cli.tool_parser(__doc__)
    parser.add_argument('config', help='pose config')
    parser.add_argument(
        'checkpoint',
        help="trained weights (.pth); 'random' for random weights")
    parser.add_argument('out_file', help='the .onnx file to write')
    parser.add_argument(
        '--opset', type=int, default=18, help='ONNX opset (18)')
    parser.add_argument(
        '--no-verify',
        dest='verify',
        action='store_false',
        help='do not compare onnxruntime with PyTorch after the export')
    cli.add_cfg_options(parser)
    args = parser.parse_args(argv)
    if not args.out_file.endswith('.onnx'):
        parser.error(f'{args.out_file}: the output must end in .onnx')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    from promptpose_mm.apis import (build_inference_model, init_model,
                                    load_config)
    from promptpose_mm.deployment import export_onnx, verify_onnx
    from promptpose_mm.deployment.onnx_export import input_size_of
    try:
        cfg = load_config(args.config, args.cfg_options)
        if args.checkpoint == 'random':
            model = build_inference_model(cfg)
        else:
            model = init_model(cfg, args.checkpoint, device='cpu')
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    input_size = input_size_of(cfg)
    result = export_onnx(model, args.out_file, input_size, opset=args.opset)
    checkpoint_params = sum(p.numel() for p in model.state_dict().values())
    print(f'wrote {args.out_file}: {result["bytes"] / 2**20:.1f} MiB, '
          f'{result["parameters"] / 1e6:.2f} M numbers in the graph, '
          f'{result["nodes"]} nodes (the model holds '
          f'{checkpoint_params / 1e6:.2f} M); crop '
          f'{input_size[0]}x{input_size[1]}, '
          f'{result["metadata"]["promptpose_mm.num_keypoints"]} keypoints, '
          'prompts folded in: '
          f'{result["metadata"]["promptpose_mm.prompts_folded"]}')
    if args.verify:
        diff = verify_onnx(model, args.out_file, input_size)
        print(f'onnxruntime vs PyTorch on a random batch of 2: largest '
              f'heatmap difference {diff:.2e}')
        result['max_abs_diff'] = diff
    result['checkpoint_parameters'] = checkpoint_params
    result['config'] = osp.abspath(args.config)
    return result


if __name__ == '__main__':
    main()
