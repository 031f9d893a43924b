"""Convert a checkpoint of the published CLAMP code to promptpose_mm's layout.

CLAMP (https://github.com/xuzhang1199/CLAMP) is
PromptPose's original code on MMPose 0.x. The converted file is an MMEngine
checkpoint for the promptpose_mm config of the same architecture, with
CLAMP's formula differences folded into the weights (see
promptpose_mm.converters.clamp). Next to it the converter writes OUT.py: that
config with CLAMP's own keypoint words as prompts (its ``class_names``, e.g.
"tail root", read from the checkpoint's meta or CLAMP's AP-10K configs) and
``load_from=OUT.pth``, so that the converted model computes CLAMP's outputs.

Usage::

    python tools/model_converters/convert_clamp_checkpoint.py \\
        CLAMP.pth OUT.pth \\
        [--config CONFIG] [--out-config OUT.py] [--clip-weights RN50.pt] \\
        [--allow-missing] [--allow-unused] [--trust-source]

    # then
    mim test promptpose_mm OUT.py --checkpoint OUT.pth

Without ``--config`` the ResNet-50 or ViT-B/16 AP-10K config is used,
whichever backbone the checkpoint has.
"""
import argparse
import logging
import sys
from typing import Optional, Sequence

from mmengine.config import DictAction

from promptpose_mm.converters import (CLAMPConversionError,
                                      convert_clamp_checkpoint)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='the CLAMP checkpoint (.pth)')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument(
        '--config',
        default=None,
        help='promptpose_mm config of the same architecture (default: the '
        'AP-10K ResNet-50 or ViT-B/16 config, by the detected backbone)')
    parser.add_argument(
        '--out-config',
        default=None,
        help='where to write the config of the converted model (default: '
        'DST with the suffix .py)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'model.neck.keypoint_names="[...]"')
    parser.add_argument(
        '--clip-weights',
        default=None,
        help='the CLIP weights CLAMP started from (RN50.pt, ViT-B-16.pt, '
        'open_clip://RN50/openai): fill the text positions CLAMP dropped '
        '(zeros otherwise)')
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='leave out model weights the checkpoint lacks')
    parser.add_argument(
        '--allow-unused',
        action='store_true',
        help='drop checkpoint weights the model has no place for')
    parser.add_argument(
        '--trust-source',
        action='store_true',
        help='unpickle arbitrary objects of the CLAMP file (only for files '
        'from a trusted source)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    try:
        result = convert_clamp_checkpoint(
            args.src,
            args.dst,
            config=args.config,
            cfg_options=args.cfg_options,
            allow_missing=args.allow_missing,
            allow_unused=args.allow_unused,
            clip_weights=args.clip_weights,
            trust_source=args.trust_source,
            out_config=args.out_config)
    except CLAMPConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(f'converted the CLAMP {result.backbone} checkpoint {args.src} '
          f'into {args.dst} ({len(result.state_dict)} tensors, '
          f'{len(result.warnings)} warnings) and wrote its config '
          f'{result.config_path}; evaluate with\n'
          f'  mim test promptpose_mm {result.config_path} --checkpoint '
          f'{args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
