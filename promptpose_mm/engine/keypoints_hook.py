"""The hook that stops a run whose model and dataset disagree on the
keypoints, before the first iteration."""
from typing import List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS
from torch import nn

from ..utils.keypoint_names import (describe_metainfo,
                                    keypoint_names_from_metainfo)
from .dataset_keypoints import check_model_keypoints, dataset_metainfo


def model_keypoint_names(model: nn.Module) -> Optional[Tuple[List[str], str]]:
    """``(names, description)`` of the keypoints a built model predicts:
    those of its ``metainfo`` (humanized), else its prompt neck's; None
    when it names none."""
    if is_model_wrapper(model):
        model = model.module
    metainfo = getattr(model, 'metainfo', None)
    if metainfo:
        return (keypoint_names_from_metainfo(metainfo),
                f"the model's metainfo ({describe_metainfo(metainfo)})")
    names = getattr(getattr(model, 'neck', None), 'keypoint_names', None)
    if names:
        return list(names), "the model's prompt names (neck.keypoint_names)"
    return None


@HOOKS.register_module()
class DatasetKeypointsHook(Hook):
    """Before training, validation or testing starts, check that the model
    predicts the keypoints of the dataset it is fed.

    MMEngine builds the model before the dataloaders, from the model config
    alone; a config that changes its dataset but not the model's
    ``metainfo`` would otherwise fail with a shape error in the loss, or
    score the wrong keypoints. The hook raises
    :class:`~promptpose_mm.utils.keypoint_names.KeypointConfigError`
    naming both sides instead.
    """

    priority = 'VERY_HIGH'

    def _check(self, runner, loop_name: str) -> None:
        found = model_keypoint_names(runner.model)
        loop = getattr(runner, loop_name, None)
        dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
        metainfo = getattr(dataset, 'metainfo', None)
        if found is None or not metainfo:
            return
        names, where = found
        split = loop_name[:-len('_loop')]
        source = (f'the {split} dataset '
                  f'({type(dataset).__name__}, {describe_metainfo(metainfo)})')
        cfg = getattr(runner, 'cfg', None) or {}
        model_metainfo = (cfg.get('model') or {}).get('metainfo')
        if model_metainfo is not None and where.startswith("the model's m"):
            where = f'model.metainfo ({describe_metainfo(model_metainfo)})'
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict) and isinstance(
                loader.get('dataset'), dict):
            # the config's words: the file the user wrote
            source = dataset_metainfo(loader['dataset'],
                                      f'{split}_dataloader.dataset')[0]
        check_model_keypoints(names, where,
                              keypoint_names_from_metainfo(metainfo), source)

    def before_train(self, runner) -> None:
        self._check(runner, 'train_loop')
        if runner.val_loop is not None:
            self._check(runner, 'val_loop')

    def before_val(self, runner) -> None:
        self._check(runner, 'val_loop')

    def before_test(self, runner) -> None:
        self._check(runner, 'test_loop')
