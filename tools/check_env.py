"""Check the promptpose_mm environment and print the versions of its stack.

Usage::

    python tools/check_env.py            # versions and every check
    python tools/check_env.py --quiet    # only failures (used by set-up)

Each failed check prints what is wrong and the command that fixes it; the
exit status is the number of failed checks.
"""
import argparse
import platform
import sys
import traceback
from typing import Callable, List, Tuple

REBUILD = 'rerun the set-up: `make env` (or `bash tools/setup_env.sh`)'
REBUILD_MMCV = ('remove the cached build and rerun the set-up: '
                '`rm -rf ~/.cache/promptpose_mm/mmcv-* && make env`')


def check_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version
    names = ('torch', 'torchvision', 'numpy', 'setuptools', 'mmengine', 'mmcv',
             'mmdet', 'mmpose', 'open_clip_torch', 'xtcocotools', 'openmim',
             'promptpose_mm')
    found, missing = [], []
    for name in names:
        try:
            found.append(f'{name}={version(name)}')
        except PackageNotFoundError:
            missing.append(name)
    if missing:
        raise RuntimeError(f'not installed: {", ".join(missing)}')
    return ', '.join(found)


def check_setuptools() -> str:
    import pkg_resources  # noqa: F401  (mmengine and openmim import it)
    import setuptools
    return f'setuptools {setuptools.__version__} still has pkg_resources'


def check_mmcv_ops() -> str:
    import torch
    from mmcv.ops import nms, roi_align
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    if keep.tolist() != [0, 2]:
        raise RuntimeError(f'mmcv.ops.nms gave {keep.tolist()}, not [0, 2]')
    feats = torch.arange(16.).view(1, 1, 4, 4)
    rois = torch.tensor([[0., 0., 0., 4., 4.]])
    pooled = roi_align(feats, rois, (2, 2), 1.0, 2, 'avg', True)
    return f'nms and roi_align run (roi_align mean {pooled.mean():.2f})'


def check_xtcocotools() -> str:
    import numpy as np
    from xtcocotools import mask
    from xtcocotools.cocoeval import COCOeval  # noqa: F401
    box = np.array([[0., 0., 4., 4.]])
    iou = mask.iou(box, box, [0])
    if abs(float(iou[0][0]) - 1.0) > 1e-6:
        raise RuntimeError(f'xtcocotools.mask.iou gave {iou}, not 1')
    return f'compiled mask API works under numpy {np.__version__}'


def check_tokenizer() -> str:
    import open_clip
    tokens = open_clip.tokenize(['left front paw'])
    if tokens.shape != (1, 77) or int(tokens[0, 0]) != 49406:
        raise RuntimeError(f'unexpected tokens {tokens[0, :6].tolist()}')
    return f'open_clip {open_clip.__version__} tokenizer (vocab shipped)'


def check_registrations() -> str:
    from mmpose.registry import MODELS

    import promptpose_mm
    names = promptpose_mm.REGISTERED_MODELS
    missing = [name for name in names if MODELS.get(name) is None]
    if missing:
        raise RuntimeError(f'not registered in mmpose MODELS: {missing}')
    return f'{len(names)} modules registered: {", ".join(names)}'


def check_checkpoint_safety() -> str:
    import torch

    import promptpose_mm  # noqa: F401
    from promptpose_mm.utils import mmengine_safe_globals
    allowed = {
        f'{getattr(g, "__module__", "")}.{getattr(g, "__name__", g)}'
        for g in torch.serialization.get_safe_globals()
        if not isinstance(g, tuple)
    }
    wanted = {f'{g.__module__}.{g.__name__}' for g in mmengine_safe_globals()}
    if not wanted <= allowed:
        raise RuntimeError(f'not allowed: {sorted(wanted - allowed)}')
    return f'torch.load allows the {len(wanted)} MMEngine checkpoint types'


CHECKS: List[Tuple[str, Callable[[], str], str]] = [
    ('versions', check_versions, REBUILD),
    ('setuptools', check_setuptools,
     "`pip install 'setuptools>=77.0.3,<82'` in .venv"),
    ('mmcv ops', check_mmcv_ops, REBUILD_MMCV),
    ('xtcocotools', check_xtcocotools,
     'rebuild it against this numpy: `rm -rf '
     '~/.cache/promptpose_mm/xtcocotools-* && make env`'),
    ('CLIP tokenizer', check_tokenizer, REBUILD),
    ('registrations', check_registrations,
     'install the plugin: `pip install -e .` at the repository root'),
    ('checkpoint loading', check_checkpoint_safety,
     'install the plugin: `pip install -e .` at the repository root'),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--quiet', action='store_true', help='print failures only')
    args = parser.parse_args()
    if not args.quiet:
        print(f'python {platform.python_version()} on {platform.machine()}'
              f' ({platform.platform()})')
    failures = 0
    for name, check, fix in CHECKS:
        try:
            message = check()
        except Exception as error:  # noqa: BLE001  (report every failure)
            failures += 1
            print(f'[FAIL] {name}: {type(error).__name__}: {error}')
            if not args.quiet:
                traceback.print_exc(limit=2)
            print(f'       fix: {fix}')
        else:
            if not args.quiet:
                print(f'[ OK ] {name}: {message}')
    if not args.quiet or failures:
        print(f'{failures} check(s) failed' if failures else 'environment OK')
    return failures


if __name__ == '__main__':
    sys.exit(main())
