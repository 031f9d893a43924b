"""A DeepLabCut project or a SLEAP file to a ready-to-train data set.

:func:`import_labels` reads the labels
(:mod:`promptpose_mm.io.deeplabcut`, :mod:`promptpose_mm.io.sleap`),
splits them (:mod:`.split`), and writes into ``out_dir``:

- ``train.json`` and ``val.json``: COCO keypoints
  (:mod:`promptpose_mm.io.coco`);
- ``metainfo.py``: the MMPose metainfo (:mod:`.metainfo`);
- a config inheriting a PromptPose paper config (ResNet-50 or ViT-B/16)
  that states only this data set (:mod:`.dataset_config`), and records the
  box mode, the animals' box side, the most animals on a frame and the
  animals' names (DeepLabCut individuals, SLEAP tracks) under
  ``label_import``, so that video inference can match them;
- ``import_summary.json``: counts per split, what was skipped and why;
- for SLEAP files, ``images/``: the labelled frames.

Every file is written whole or not at all.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from promptpose_mm.io.atomic import write_json_atomic
from promptpose_mm.io.coco import BOX_MODES, labels_to_coco
from promptpose_mm.io.deeplabcut import read_deeplabcut_project
from promptpose_mm.io.labels import LabelledFrame, LabelSet, describe_skipped
from promptpose_mm.io.sleap import read_sleap_labels
from promptpose_mm.utils.boxes import square_box
from promptpose_mm.utils.installed_configs import (PAPER_CONFIGS,
                                                   installed_config)
from .dataset_config import (config_text, dataset_entries, input_size_entries,
                             merge_entries)
from .metainfo import (DEFAULT_SIGMA, flip_partners, pose_metainfo,
                       write_metainfo)
from .split import split_frames


def read_labels(source: str, out_dir: str) -> LabelSet:
    """A DeepLabCut project folder or a SLEAP ``.slp`` file, read."""
    if not osp.exists(source):
        raise FileNotFoundError(
            f'{source} does not exist: give a DeepLabCut project folder or a '
            'SLEAP labels file')
    if osp.isdir(source):
        return read_deeplabcut_project(source)
    if source.endswith('.slp'):
        return read_sleap_labels(source, out_dir)
    raise ValueError(
        f'{source}: give a DeepLabCut project folder (with config.yaml) or '
        'a SLEAP labels file (.slp or .pkg.slp)')


def split_counts(frames: Sequence[LabelledFrame]) -> Dict[str, int]:
    """Videos, frames, instances and labelled points of a split."""
    instances = [points for frame in frames for points in frame.instances]
    return dict(
        videos=len({frame.video
                    for frame in frames}),
        frames=len(frames),
        instances=len(instances),
        points=int(sum(np.isfinite(p).all(-1).sum() for p in instances)))


def animal_scale(frames: Sequence[LabelledFrame],
                 padding: float) -> Dict[str, object]:
    """What a video tool needs to find the animals of ``frames``:
    ``animal_side``, the median side in pixels of the padded squares
    around their labelled points, and ``max_animals``, the most animals
    labelled on one frame."""
    sides, most = [], 0
    for frame in frames:
        labelled = [
            points for points in frame.instances
            if np.isfinite(points).all(axis=1).any()
        ]
        most = max(most, len(labelled))
        sides += [square_box(points, padding)[2] for points in labelled]
    side = round(float(np.median(sides)), 1) if sides else None
    return dict(animal_side=side, max_animals=most)


def animal_names(frames: Sequence[LabelledFrame]) -> Optional[List[str]]:
    """The labels' animal names (DeepLabCut individuals, SLEAP tracks) in
    the order first seen, for the video tools to name their animals; None
    when the labels name none."""
    names: List[str] = []
    for frame in frames:
        names += [name for name in frame.tracks if name and name not in names]
    return names or None


def _slug(name: str) -> str:
    return re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-') or 'labels'


def import_labels(source: str,
                  out_dir: str,
                  backbone: str = 'rn50',
                  base_config: Optional[str] = None,
                  input_size: Optional[Tuple[int, int]] = None,
                  box_mode: str = 'animal',
                  padding: float = 0.25,
                  val_fraction: float = 0.2,
                  seed: int = 0,
                  val_every: Optional[int] = None,
                  sigma: float = DEFAULT_SIGMA,
                  batch_size: Optional[int] = None) -> Dict[str, object]:
    """Import labels and write a data set and its config into ``out_dir``.

    Args:
        source (str): a DeepLabCut project folder or a SLEAP labels file.
        out_dir (str): the output folder (created).
        backbone (str): the paper config to inherit, ``'rn50'`` or
            ``'vit-b16'`` (``PAPER_CONFIGS``); ignored when ``base_config``
            is given.
        base_config (str, optional): any PromptPose (or SimpleBaseline)
            config to inherit instead.
        input_size (tuple[int, int], optional): crop width and height;
            None keeps the base's (256x256).
        box_mode (str): ``'animal'`` (a padded square around the labelled
            points) or ``'frame'`` (the whole image).
        padding (float): the animal box's padding per side, a fraction of
            its side.
        val_fraction (float): the share held out (by video when there are
            several, else by frame).
        seed (int): the split's seed.
        val_every (int, optional): every N-th frame to validation instead.
        sigma (float): the OKS sigma of every keypoint.
        batch_size (int, optional): per-GPU batch; None keeps the base's.

    Returns:
        dict: the written paths (``train``, ``val``, ``metainfo``,
        ``config``, ``summary``), ``img_root``, ``num_keypoints``,
        ``num_train``, ``num_val`` (frames), ``counts`` per split,
        ``skipped`` (lines, one per reason) and ``text`` (the summary).
    """
    if box_mode not in BOX_MODES:
        raise ValueError(f'box mode must be one of {BOX_MODES}, got '
                         f'{box_mode!r}')
    if base_config is None:
        if backbone not in PAPER_CONFIGS:
            raise ValueError(f'backbone must be one of '
                             f'{sorted(PAPER_CONFIGS)}, got {backbone!r}')
        base_config = installed_config(PAPER_CONFIGS[backbone])
    if not osp.isfile(base_config):
        raise FileNotFoundError(f'{base_config}: no such config')
    os.makedirs(out_dir, exist_ok=True)
    labels = read_labels(source, out_dir)
    split = split_frames(labels.frames, val_fraction, seed, val_every)
    paths = dict(
        train=osp.join(out_dir, 'train.json'),
        val=osp.join(out_dir, 'val.json'),
        metainfo=osp.join(out_dir, 'metainfo.py'))
    for name, frames in (('train', split.train), ('val', split.val)):
        write_json_atomic(paths[name],
                          labels_to_coco(labels, frames, box_mode, padding))
    write_metainfo(paths['metainfo'], pose_metainfo(labels, sigma))

    record = dict(
        source=osp.abspath(source),
        format=labels.source,
        box_mode=box_mode,
        padding=padding if box_mode == 'animal' else None,
        split=split.rule,
        individuals=animal_names(labels.frames),
        **animal_scale(split.train, padding if box_mode == 'animal' else 0))
    entries = [
        dataset_entries(paths['train'], paths['val'], paths['metainfo'],
                        labels.image_root, batch_size)
    ]
    size_tag = 'base'
    if input_size is not None:
        entries.append(input_size_entries(base_config, input_size))
        size_tag = f'{input_size[0]}x{input_size[1]}'
    entries.append(dict(label_import=record))
    base_name = osp.basename(base_config)[:-len('.py')]
    stem = re.sub(r'_ap10k.*$', '', base_name)
    paths['config'] = osp.join(
        out_dir, f'{stem}_{_slug(labels.name)}'
        f'{"" if size_tag == "base" else "-" + size_tag}.py')
    header = (f'{labels.name}: {len(labels.bodyparts)} keypoints imported '
              f'from {record["source"]}\nby promptpose_mm.annotations.'
              f'importer; boxes: {box_mode}; split: {split.rule}.\n'
              f'Train: mim train mmpose {paths["config"]}')
    text = config_text(base_config, merge_entries(*entries), header)
    partial = paths['config'] + '.partial'
    with open(partial, 'w') as file:
        file.write(text)
    os.replace(partial, paths['config'])

    counts = dict(train=split_counts(split.train), val=split_counts(split.val))
    skipped = describe_skipped(labels.skipped)
    summary = format_summary(labels, counts, skipped, record, paths, sigma)
    paths['summary'] = osp.join(out_dir, 'import_summary.json')
    result: Dict[str, object] = dict(
        paths,
        img_root=labels.image_root,
        num_keypoints=len(labels.bodyparts),
        num_train=len(split.train),
        num_val=len(split.val),
        counts=counts,
        skipped=skipped,
        label_import=record,
        text=summary)
    write_json_atomic(paths['summary'], result)
    return result


def format_summary(labels: LabelSet, counts: Dict[str, Dict[str, int]],
                   skipped: List[str], record: dict, paths: Dict[str, str],
                   sigma: float) -> str:
    """The lines the import command prints."""
    boxes = record['box_mode']
    if record['padding'] is not None:
        boxes += f' (padded {record["padding"]:g} of the side per side)'
    partners = flip_partners(labels.bodyparts, labels.flip_pairs)
    pairs = sum(bool(partner) for partner in partners) // 2
    flips = (f'{pairs} ' + ('from the file' if labels.flip_pairs else
                            'found from left/right names'))
    lines = [
        f'{labels.source} labels "{labels.name}": {len(labels.bodyparts)} '
        f'keypoints {labels.bodyparts}',
        f'  skeleton: {len(labels.skeleton)} links; flip pairs: {flips}; '
        f'OKS sigma {sigma:g} for every keypoint',
        f'  boxes: {boxes}; split: {record["split"]}',
        '  split   videos  frames  instances  points',
    ]
    for name, count in counts.items():
        lines.append(f'  {name:<6} {count["videos"]:>7} {count["frames"]:>7} '
                     f'{count["instances"]:>10} {count["points"]:>7}')
    lines.append(f'  skipped: {"none" if not skipped else ""}')
    lines += [f'    {line}' for line in skipped]
    lines += [
        f'  wrote {paths["train"]}, {paths["val"]}, {paths["metainfo"]}',
        f'  config {paths["config"]}',
        f'  train: mim train mmpose {paths["config"]}',
    ]
    return '\n'.join(lines)
