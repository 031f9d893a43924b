"""Build a config's pose estimator, its keypoints checked against its data.

The PromptPose configs state their dataset's metainfo once, for the model
and the loaders, so ``mmpose.apis.init_model`` builds them as they are.
:func:`init_model` adds what the plugin's tools want: the model's keypoints
checked against the config's dataset before anything is built (see
:mod:`promptpose_mm.engine.dataset_keypoints`), and exported ``.onnx`` files
as checkpoints.
"""
import copy
from pathlib import Path
from typing import Optional, Union

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.apis import init_model as mmpose_init_model
from mmpose.registry import MODELS
from torch import nn

from promptpose_mm.deployment import is_onnx_file, onnxruntime_config
from promptpose_mm.engine import apply_dataset_keypoints, dataset_keypoints
from promptpose_mm.utils.checkpoint import load_checkpoint_file
from promptpose_mm.utils.precision import PrecisionError, resolve_precision

ConfigType = Union[str, Path, Config]


def load_config(config: ConfigType,
                cfg_options: Optional[dict] = None) -> Config:
    """A config (file or object, copied) with its keypoints filled in.

    Args:
        config (str | Path | Config): the config.
        cfg_options (dict, optional): overrides, as ``--cfg-options``.

    Returns:
        Config: the config after :func:`apply_dataset_keypoints`.
    """
    cfg = (
        Config.fromfile(str(config))
        if isinstance(config, (str, Path)) else copy.deepcopy(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return apply_dataset_keypoints(cfg)


def with_precision(cfg: Config,
                   precision: Optional[str],
                   device: Optional[str] = None,
                   checkpoint: Optional[str] = None) -> Config:
    """``cfg`` with ``model.precision`` set to ``precision`` resolved for
    ``device`` (see :mod:`promptpose_mm.utils.precision`); unchanged for
    None.

    Raises:
        PrecisionError: the device cannot run ``precision`` fast, the model
        is not a ``PromptPoseEstimator``, or ``checkpoint`` is an exported
        ``.onnx`` file and ``precision`` is not float32.
    """
    if precision is None:
        return cfg
    if device is None:
        import torch
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    resolved = resolve_precision(precision, device)
    if is_onnx_file(checkpoint):
        if resolved != 'float32':
            raise PrecisionError(
                f'{checkpoint} is an exported model, which runs in '
                f'onnxruntime in the precision it was exported in: pass '
                f'precision float32, or the .pth checkpoint for {resolved}')
        return cfg
    if cfg.model.get('type') != 'PromptPoseEstimator':
        if resolved == 'float32':
            return cfg
        raise PrecisionError(
            f'model type {cfg.model.get("type")} has no precision setting: '
            f'{resolved} needs a PromptPoseEstimator model')
    cfg = copy.deepcopy(cfg)
    cfg.model.precision = resolved
    return cfg


def init_model(config: ConfigType,
               checkpoint: Optional[str] = None,
               device: str = 'cuda:0',
               cfg_options: Optional[dict] = None,
               precision: Optional[str] = None) -> nn.Module:
    """``mmpose.apis.init_model``, the config's keypoints checked first.

    Args:
        config (str | Path | Config): the pose config.
        checkpoint (str, optional): weights to load; an exported ``.onnx``
            file runs in onnxruntime instead (see
            :func:`~promptpose_mm.deployment.onnxruntime_config`).
        device (str): where to put the model.
        cfg_options (dict, optional): config overrides.
        precision (str, optional): inference precision (``'auto'``,
            ``'float32'``, ``'bfloat16'``, ``'float16'``, see
            :mod:`promptpose_mm.utils.precision`); None: the config's
            ``model.precision`` (float32 unless set).

    Returns:
        nn.Module: the model in eval mode, with ``dataset_meta``.

    Raises:
        PrecisionError: ``precision`` cannot run fast on ``device``.
    """
    cfg = with_precision(
        load_config(config, cfg_options), precision, device, checkpoint)
    if is_onnx_file(checkpoint):
        return mmpose_init_model(
            onnxruntime_config(cfg, checkpoint), None, device=device)
    if checkpoint is not None and '://' not in checkpoint:
        # a damaged or refused file is reported by name before MMEngine
        # loads it (with torch's words)
        load_checkpoint_file(checkpoint, what='checkpoint')
    return mmpose_init_model(cfg, checkpoint, device=device)


def build_random_model(cfg: Config, device: str = 'cpu') -> nn.Module:
    """Build a config's pose estimator with random weights.

    Every ``init_cfg`` of the backbone, neck and head is dropped, so
    nothing is loaded or downloaded; weights keep PyTorch's default
    initialisation.

    Args:
        cfg (Config): an MMPose top-down config.
        device (str): where to put the model.

    Returns:
        nn.Module: the model, in training mode.
    """
    cfg = load_config(cfg)
    model_cfg = cfg.model.copy()
    for part in ('backbone', 'neck', 'head'):
        if model_cfg.get(part) is not None:
            model_cfg[part] = dict(model_cfg[part], init_cfg=None)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(model_cfg)
    return model.to(device)


def build_inference_model(config: ConfigType,
                          device: str = 'cpu') -> nn.Module:
    """A config's model with random weights, as :func:`init_model` gives
    one: eval mode, ``cfg`` and ``dataset_meta`` (from the config's dataset)
    set. Nothing is loaded or downloaded: for benchmarks and exports of an
    architecture.

    Args:
        config (str | Path | Config): the pose config.
        device (str): where to put the model.

    Returns:
        nn.Module: the model, in eval mode.
    """
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    cfg = load_config(config)
    model = build_random_model(cfg, device).eval()
    _, metainfo, _ = dataset_keypoints(cfg)
    model.cfg = cfg
    model.dataset_meta = parse_pose_metainfo(metainfo)
    return model
