"""The model's keypoints follow the dataset a config names.

A PromptPose config states its dataset once (the dataloaders' dataset type
or ``metainfo`` file); :func:`apply_dataset_keypoints` fills in what
follows from it before the model is built:

* ``model.neck.metainfo``: the dataset's metainfo (the prompt names are its
  keypoint names, humanized), unless the neck sets ``metainfo`` or an
  explicit ``keypoint_names`` list;
* ``model.neck.num_keypoints`` and ``model.head.out_channels``: ``K``.

Values a config sets are checked instead of replaced: prompt names read
from another metainfo than the dataset's, an explicit list of another
length, or another ``K`` are errors that name both sides, raised before
anything is built. ``None`` (the paper configs' value) means "follow the
dataset".

It runs for ``mim train`` / ``mim test`` through :class:`PromptPoseRunner`
(``runner_type`` in the configs), and in :func:`promptpose_mm.apis.init_model`,
the inferencer and the tools.
"""
import copy
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from promptpose_mm.utils.keypoint_names import keypoint_names_from_metainfo

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class KeypointConfigError(ValueError):
    """A config's model and dataset disagree on the keypoints."""


def _describe(metainfo: Any) -> str:
    if isinstance(metainfo, dict) and 'from_file' in metainfo:
        return repr(metainfo['from_file'])
    if isinstance(metainfo, dict) and 'dataset_name' in metainfo:
        return f"dataset_name {metainfo['dataset_name']!r}"
    return 'an inline metainfo dict'


def _dataset_metainfo(dataset: dict, where: str) -> Tuple[str, dict]:
    """``(description, metainfo)`` of a dataset config: its ``metainfo``,
    else its class's ``METAINFO``; wrappers are unwrapped."""
    while dataset.get('metainfo') is None and isinstance(
            dataset.get('dataset'), dict):
        dataset, where = dataset['dataset'], where + '.dataset'
    if dataset.get('metainfo') is not None:
        metainfo = dataset['metainfo']
        return f'{where}.metainfo ({_describe(metainfo)})', metainfo
    dataset_type = dataset.get('type')
    if not isinstance(dataset_type, str):
        cls = dataset_type
    else:
        init_default_scope('mmpose')
        cls = DATASETS.get(dataset_type)
    metainfo = getattr(cls, 'METAINFO', None)
    if cls is None or not metainfo:
        raise KeypointConfigError(
            f'{where}: dataset type {dataset_type!r} has no METAINFO and the '
            'config sets no metainfo: add metainfo=dict(from_file='
            "'PATH/TO/metainfo.py') to the dataset")
    return (f'{where} ({getattr(cls, "__name__", dataset_type)}, '
            f'{_describe(metainfo)})'), dict(metainfo)


def dataset_keypoints(cfg: Config) -> Optional[Tuple[str, dict, List[str]]]:
    """The keypoints of the dataset(s) a config trains and evaluates on.

    Args:
        cfg (Config): the config.

    Returns:
        tuple | None: ``(description, metainfo, names)`` of the first
        dataloader's dataset (names humanized, in id order), or None when
        the config has no dataloader.

    Raises:
        KeypointConfigError: two dataloaders' datasets name different
            keypoints.
    """
    found = []
    for loader in _LOADERS:
        dataset = (cfg.get(loader) or {}).get('dataset')
        if not dataset:
            continue
        where, metainfo = _dataset_metainfo(dataset, f'{loader}.dataset')
        found.append((where, metainfo, keypoint_names_from_metainfo(metainfo)))
    if not found:
        return None
    first = found[0]
    for other in found[1:]:
        if other[2] != first[2]:
            raise KeypointConfigError(
                f'the datasets disagree on the keypoints: {first[0]} has '
                f'{len(first[2])} ({first[2]}) but {other[0]} has '
                f'{len(other[2])} ({other[2]}). Train and evaluate on '
                'datasets with the same keypoints')
    return first


def _check_count(value: Any, name: str, k: int, source: str) -> None:
    if value is not None and int(value) != k:
        raise KeypointConfigError(
            f'{name}={value} but the dataset {source} has {k} keypoints: '
            f'remove {name} from the config (it follows the dataset) or '
            'set it to match')


def apply_dataset_keypoints(cfg: Config) -> Config:
    """Fill in and check the model's keypoint fields from the dataset.

    Args:
        cfg (Config): a top-down pose config; not modified.

    Returns:
        Config: a copy with ``model.neck.metainfo`` / ``num_keypoints`` and
        ``model.head.out_channels`` set from the dataset (the copy is the
        config itself when it has no dataloader or no model).

    Raises:
        KeypointConfigError: the model's prompt names or ``K`` disagree
            with the dataset, or the datasets disagree with each other.
    """
    if not isinstance(cfg.get('model'), dict):
        return cfg
    found = dataset_keypoints(cfg)
    if found is None:
        return cfg
    source, metainfo, names = found
    k = len(names)
    cfg = copy.deepcopy(cfg)
    model: Dict[str, Any] = cfg.model
    neck = model.get('neck')
    if isinstance(neck, dict) and _has_prompts(neck):
        if neck.get('keypoint_names') is not None:
            _check_count(
                len(neck['keypoint_names']),
                'model.neck.keypoint_names (its length)', k, source)
        elif neck.get('metainfo') is not None:
            prompt_names = keypoint_names_from_metainfo(neck['metainfo'])
            if prompt_names != names:
                raise KeypointConfigError(
                    'the prompt names disagree with the dataset: '
                    f'model.neck.metainfo ({_describe(neck["metainfo"])}) '
                    f'names {len(prompt_names)} keypoints {prompt_names}, '
                    f'but {source} names {k}: {names}. Remove '
                    'model.neck.metainfo (the prompts then follow the '
                    'dataset) or train on the dataset the prompts describe')
        else:
            neck['metainfo'] = ConfigDict(metainfo)
        _check_count(
            neck.get('num_keypoints'), 'model.neck.num_keypoints', k, source)
        neck['num_keypoints'] = k
    head = model.get('head')
    if isinstance(head, dict) and 'out_channels' in head:
        _check_count(head['out_channels'], 'model.head.out_channels', k,
                     source)
        head['out_channels'] = k
    return cfg


def _has_prompts(neck: dict) -> bool:
    """Whether a neck config takes keypoint names (PromptPoseNeck)."""
    return (neck.get('type') == 'PromptPoseNeck' or any(
        key in neck
        for key in ('metainfo', 'keypoint_names', 'num_keypoints')))
