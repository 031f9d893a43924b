"""The model's keypoints and the dataset's agree.

A PromptPose config states its dataset once, in one ``metainfo`` variable
that the model (:class:`~promptpose_mm.models.PromptPoseEstimator`) and the
dataloaders share; the estimator builds its prompts and head from it.
:func:`dataset_keypoints` reads the keypoints of the dataset a config
trains and evaluates on, and :func:`apply_dataset_keypoints` checks the
model's against them before anything is built (for a config without a
model ``metainfo``, it sets the dataset's). At run time
:class:`~.keypoints_hook.DatasetKeypointsHook` does the same check on the
built model and dataset before the first iteration.
"""
import copy
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from promptpose_mm.utils.keypoint_names import (KeypointConfigError,
                                                describe_metainfo,
                                                keypoint_names_from_metainfo,
                                                model_keypoint_fields)

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def dataset_metainfo(dataset: dict, where: str) -> Tuple[str, dict]:
    """``(description, metainfo)`` of a dataset config: its ``metainfo``,
    else its class's ``METAINFO``; wrappers are unwrapped."""
    while dataset.get('metainfo') is None and isinstance(
            dataset.get('dataset'), dict):
        dataset, where = dataset['dataset'], where + '.dataset'
    if dataset.get('metainfo') is not None:
        metainfo = dataset['metainfo']
        return f'{where}.metainfo ({describe_metainfo(metainfo)})', metainfo
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
            f'{describe_metainfo(metainfo)})'), dict(metainfo)


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
        where, metainfo = dataset_metainfo(dataset, f'{loader}.dataset')
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


def check_model_keypoints(model_names: List[str], model_source: str,
                          dataset_names: List[str],
                          dataset_source: str) -> None:
    """Raise :class:`KeypointConfigError` naming both sides when a model's
    keypoint names are not its dataset's."""
    if model_names != dataset_names:
        raise KeypointConfigError(
            f'the model and the dataset disagree on the keypoints: '
            f'{model_source} names {len(model_names)} ({model_names}) but '
            f'{dataset_source} names {len(dataset_names)} '
            f"({dataset_names}). Set the model's metainfo to the "
            "dataset's (model=dict(metainfo=...), the same metainfo the "
            'dataloaders use) or train on the dataset the model describes')


def apply_dataset_keypoints(cfg: Config) -> Config:
    """Check a config's model keypoints against its dataset, and fill in.

    Args:
        cfg (Config): a top-down pose config; not modified.

    Returns:
        Config: a copy whose ``model.metainfo`` is the dataset's (set when
        the config has none) and whose neck and head keypoint fields are
        filled in from it (see :func:`model_keypoint_fields`); the config
        itself when it has no dataloader or no model.

    Raises:
        KeypointConfigError: the model's metainfo, prompt names or ``K``
            disagree with the dataset, or the datasets with each other.
    """
    if not isinstance(cfg.get('model'), dict):
        return cfg
    found = dataset_keypoints(cfg)
    if found is None:
        return cfg
    source, metainfo, names = found
    cfg = copy.deepcopy(cfg)
    model: Dict[str, Any] = cfg.model
    if model.get('metainfo') is not None:
        check_model_keypoints(
            keypoint_names_from_metainfo(model['metainfo']),
            f'model.metainfo ({describe_metainfo(model["metainfo"])})', names,
            source)
    else:
        model['metainfo'] = ConfigDict(metainfo)
    neck, head = model_keypoint_fields(
        model.get('neck'), model.get('head'), metainfo, source)
    for key, value in (('neck', neck), ('head', head)):
        if value is not None:
            model[key] = value
    return cfg
