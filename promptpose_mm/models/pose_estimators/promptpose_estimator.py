"""MMPose's top-down estimator whose keypoints follow its ``metainfo``."""
from typing import Optional

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig

from promptpose_mm.utils.keypoint_names import (describe_metainfo,
                                                model_keypoint_fields)


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
                 metainfo: Optional[dict] = None):
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
