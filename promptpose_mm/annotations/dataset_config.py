"""Downstream configs that inherit a paper config and state a dataset.

A COCO keypoint data set (train and val files, an MMPose metainfo file and
the image folder) becomes the loaders and evaluators of a config:
``CocoDataset`` with the metainfo, which the model shares (its prompt
names, K and the head's channels follow from it), and MMPose's
``CocoMetric`` (OKS AP), ``PCKAccuracy`` (PCK@0.05 of the box) and ``EPE``
(mean pixel error),
the errors DeepLabCut and SLEAP users report. :func:`input_size_entries`
changes a config's crop size everywhere it appears, and :func:`config_text`
writes the result as a config file that inherits its base by absolute path.
"""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

from mmengine.config import Config


def dataset_entries(train: str,
                    val: str,
                    metainfo: str,
                    img_root: str,
                    batch_size: Optional[int] = None,
                    num_workers: Optional[int] = None) -> Dict[str, object]:
    """Loaders (train, val, test) and evaluators of a COCO data set.

    Args:
        train (str): the training COCO file.
        val (str): the validation COCO file (also the test split).
        metainfo (str): the MMPose metainfo file.
        img_root (str): the folder the COCO ``file_name`` start from.
        batch_size (int, optional): per-GPU batch; None keeps the base's.
        num_workers (int, optional): loader workers; None keeps the base's.

    Returns:
        dict: top-level config entries, merged into the base's: the
        ``metainfo`` (stated once, in the model and every loader), loaders
        and evaluators.
    """
    shared = dict(from_file=osp.abspath(metainfo))

    def loader(ann_file: str, shuffle: bool, test: bool) -> dict:
        out = dict(
            sampler=dict(type='DefaultSampler', shuffle=shuffle),
            dataset=dict(
                type='CocoDataset',
                data_root='',
                ann_file=osp.abspath(ann_file),
                data_prefix=dict(img=osp.join(osp.abspath(img_root), '')),
                metainfo=shared))
        if test:
            out['sampler']['round_up'] = False
        if batch_size is not None:
            out['batch_size'] = batch_size
        if num_workers is not None:
            out.update(
                num_workers=num_workers, persistent_workers=num_workers > 0)
        return out

    val_loader = loader(val, False, True)
    evaluator = [
        dict(type='CocoMetric', ann_file=osp.abspath(val)),
        dict(type='PCKAccuracy', thr=0.05, norm_item='bbox'),
        dict(type='EPE')
    ]
    return dict(
        metainfo=shared,
        model=dict(metainfo=shared),
        train_dataloader=loader(train, True, False),
        val_dataloader=val_loader,
        test_dataloader=val_loader,
        val_evaluator=evaluator,
        test_evaluator=evaluator)


def _with_input_size(transforms: Sequence[dict], codec: dict) -> list:
    out = []
    for transform in copy.deepcopy(list(transforms)):
        if 'input_size' in transform:
            transform['input_size'] = codec['input_size']
        if 'encoder' in transform:
            transform['encoder'] = codec
        out.append(transform)
    return out


def input_size_entries(base: str, input_size: Tuple[int,
                                                    int]) -> Dict[str, object]:
    """The entries that train ``base`` on ``(width, height)`` crops.

    The codec keeps its type and sigma with the new input size and a
    heatmap a quarter of it; the backbone, the head's decoder and every
    pipeline step that names the input size or the encoder follow.

    Args:
        base (str): the config to inherit.
        input_size (tuple[int, int]): the crop's width and height, each a
            multiple of 32.
    """
    width, height = (int(v) for v in input_size)
    if width % 32 or height % 32 or width <= 0 or height <= 0:
        raise ValueError(f'input size {width}x{height}: width and height '
                         'must be positive multiples of 32')
    cfg = Config.fromfile(base)
    codec = dict(
        cfg.model.head.decoder,
        input_size=(width, height),
        heatmap_size=(width // 4, height // 4))
    train = _with_input_size(cfg.train_dataloader.dataset.pipeline, codec)
    val = _with_input_size(cfg.val_dataloader.dataset.pipeline, codec)
    return dict(
        codec=codec,
        model=dict(
            backbone=dict(input_size=codec['input_size']),
            head=dict(decoder=codec)),
        train_dataloader=dict(dataset=dict(pipeline=train)),
        val_dataloader=dict(dataset=dict(pipeline=val)),
        test_dataloader=dict(dataset=dict(pipeline=val)))


def merge_entries(*entries: Dict[str, object]) -> Dict[str, object]:
    """Merge nested entry dicts, later ones winning key by key."""
    out: Dict[str, object] = {}
    for entry in entries:
        for key, value in entry.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge_entries(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def config_text(base: str, entries: Dict[str, object], header: str) -> str:
    """A config file inheriting ``base`` (absolute path unless it starts
    with ``./``) and assigning ``entries`` at the top level; a ``metainfo``
    entry comes first and the other entries name it by that variable."""
    if not base.startswith('./'):
        base = osp.abspath(base)
    lines = [f'# {line}'.rstrip() for line in header.splitlines()]
    text = '\n'.join(lines) + f'\n_base_ = [{base!r}]\n\n'
    shared = repr(entries['metainfo']) if 'metainfo' in entries else None
    if shared is not None:
        text += f'metainfo = {shared}\n'
    for key, value in entries.items():
        if key != 'metainfo':
            value = repr(value)
            text += f'{key} = ' + (value.replace(shared, 'metainfo')
                                   if shared else value) + '\n'
    return text
