"""MMPose's top-down estimator whose keypoints follow its ``metainfo``."""
from typing import Any, Optional

import torch
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from promptpose_mm.models.heads import PromptPoseHead
from promptpose_mm.utils.keypoint_names import (describe_metainfo,
                                                model_keypoint_fields)
from promptpose_mm.utils.precision import (autocast, full_precision,
                                           resolve_precision)


def to_float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (in tuples, lists and
    named tuples) cast to float32."""
    if isinstance(value, Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, tuple) and hasattr(value, '_fields'):
        return type(value)(*(to_float32(item) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(to_float32(item) for item in value)
    return value


@MODELS.register_module()
class PromptPoseEstimator(TopdownPoseEstimator):
    """``TopdownPoseEstimator`` that reads its keypoints from ``metainfo``.

    MMPose's estimator takes the dataset's ``metainfo`` and stamps it on
    every data sample; this one also builds its neck and head for those
    keypoints: a ``PromptPoseNeck`` without names gets the metainfo (its
    prompts are the keypoint names, humanized) and ``num_keypoints = K``,
    and a head whose ``out_channels`` is None gets ``K``. Values a config
    sets are checked, so a model stated for one dataset and its neck or
    head for another fails at build time, naming both. A config states its
    dataset once, in one ``metainfo`` variable that the model and the
    dataloaders share; ``mmpose.apis.init_model``, ``MMPoseInferencer`` and
    ``mim train`` then build it as any MMPose model.

    Args:
        backbone (dict): the backbone config.
        neck (dict, optional): the neck config.
        head (dict, optional): the head config.
        train_cfg (dict, optional): as ``TopdownPoseEstimator``.
        test_cfg (dict, optional): as ``TopdownPoseEstimator``.
        data_preprocessor (dict, optional): as ``TopdownPoseEstimator``.
        init_cfg (dict | list[dict], optional): initialisation config.
        metainfo (dict): the dataset's MMPose metainfo, e.g.
            ``dict(from_file='configs/_base_/datasets/ap10k.py')``.
        precision (str): inference precision of the backbone and neck, one
            of :data:`~promptpose_mm.utils.precision.PRECISIONS`; the head,
            decoding and flip test stay float32. Training ignores it
            (``mim train --amp`` sets the training precision). Default
            ``'float32'``; :func:`~promptpose_mm.utils.precision.
            set_precision` changes it on a built model.

    Raises:
        ValueError: ``metainfo`` is missing.
        KeypointConfigError: the neck or head disagree with ``metainfo``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None,
                 precision: str = 'float32'):
        if metainfo is None:
            raise ValueError(
                'PromptPoseEstimator needs the metainfo of the dataset its '
                "keypoints are: metainfo=dict(from_file='configs/_base_/"
                "datasets/ap10k.py') (or your dataset's metainfo file)")
        neck, head = model_keypoint_fields(
            neck, head, metainfo,
            f'model.metainfo ({describe_metainfo(metainfo)})')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            metainfo=metainfo)
        self.precision = precision
        self._channels_last = False

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """The losses of a batch ``(B, 3, H, W)``, as MMPose's estimator.

        Under a training autocast (``--amp``) a head other than
        ``PromptPoseHead`` (which returns float32 heatmaps itself) runs in
        float32 on float32 features: MMPose's heads read their heatmaps
        through numpy, which has no bfloat16.
        """
        if (not torch.is_autocast_enabled(inputs.device.type)
                or isinstance(self.head, PromptPoseHead)):
            return super().loss(inputs, data_samples)
        feats = to_float32(self.extract_feat(inputs))
        with full_precision(inputs.device):
            return self.head.loss(
                feats, data_samples, train_cfg=self.train_cfg)

    def extract_feat(self, inputs: Tensor) -> Any:
        """Backbone and neck of ``inputs`` ``(B, 3, H, W)``; in eval mode in
        :attr:`precision` (autocast), the features returned in float32."""
        if self.training or self.precision == 'float32':
            return super().extract_feat(inputs)
        precision = resolve_precision(self.precision, inputs.device)
        if not self._channels_last:
            # faster convolutions in bfloat16 and float16; loaded weights
            # are copied into this layout
            self.to(memory_format=torch.channels_last)
            self._channels_last = True
        with autocast(precision, inputs.device):
            feats = super().extract_feat(
                inputs.contiguous(memory_format=torch.channels_last))
        return to_float32(feats)
