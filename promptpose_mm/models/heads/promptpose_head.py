"""The PromptPose head: score-map fusion, pixel branch and the two losses."""
from typing import Optional, Sequence, Tuple

import torch
from mmcv.cnn import build_conv_layer
from mmengine.model import BaseModule
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from ..structures import PromptPoseFeatures
from ..utils import keypoints_inside, sample_keypoint_features

OptIntSeq = Optional[Sequence[int]]


class PixelBranch(BaseModule):
    """The pixel branch: ``deconv_layers`` then ``final_layer`` on the score
    map ``(B, K, h, w)`` -> ``(B, K, H_out, W_out)``.

    Its own module so that it keeps PyTorch's default initialisation, as in
    the published CLAMP code (which builds it after the keypoint head's
    ``init_weights``): :meth:`init_weights` runs after the head's
    ``Normal(0, 0.001)`` initialisation (MMEngine initialises children after
    their parent) and, without an ``init_cfg`` of its own, resets every
    layer with its ``reset_parameters`` (convolutions and deconvolutions:
    ``kaiming_uniform_(a=sqrt(5))`` weights and ``U(-1/sqrt(fan_in),
    1/sqrt(fan_in))`` biases; BatchNorm: weight 1, bias 0).

    Args:
        deconv_layers (nn.Module): the upsampling layers.
        final_layer (nn.Module): the 1x1 conv to K channels.
        init_cfg (dict | list[dict], optional): another initialisation,
            e.g. ``dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'],
            std=0.001)`` for MMPose's. Defaults to ``None`` (PyTorch's).
    """

    def __init__(self,
                 deconv_layers: nn.Module,
                 final_layer: nn.Module,
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg=init_cfg)
        self.deconv_layers = deconv_layers
        self.final_layer = final_layer

    def forward(self, score_map: Tensor) -> Tensor:
        """Score map ``(B, K, h, w)`` -> maps ``(B, K, H_out, W_out)``."""
        return self.final_layer(self.deconv_layers(score_map))

    def init_weights(self) -> None:
        """PyTorch's default initialisation, or ``init_cfg`` when given."""
        if self.init_cfg:
            super().init_weights()
            return
        for module in self.modules():
            if module is not self and hasattr(module, 'reset_parameters'):
                module.reset_parameters()
        self._is_init = True


@MODELS.register_module()
class PromptPoseHead(HeatmapHead):
    """Heatmap head of PromptPose (language-prompted pose estimation).

    It is MMPose's :class:`HeatmapHead` (SimpleBaseline deconvolutions, a
    final conv, decoding, flip test and accuracy) run on the last backbone
    map concatenated with the K-channel text-to-pixel score map, plus:

    - a pixel branch on the score map alone (as many deconvolutions as the
      keypoint branch, ``pixel_deconv_out_channels`` wide, K by default,
      same kernel sizes, then a 1x1 conv to K channels) trained against the
      target heatmaps by
      ``pixel_loss`` (``loss_pixel``);
    - the semantic-level loss (``loss_semantic``): the dense CLIP-space map
      is bilinearly sampled at the ground-truth keypoints (in input pixels,
      ``gt_instances.transformed_keypoints`` packed by
      ``PackPoseInputs(pack_transformed=True)``) and contrasted with the
      keypoint prompts; only keypoints with a positive weight and inside the
      crop take part.

    The head reads a :class:`PromptPoseFeatures` (from ``PromptPoseNeck``).

    Args:
        in_channels (int): channels ``C`` of the last backbone map; the
            keypoint branch sees ``C + out_channels`` channels.
        out_channels (int): number of keypoints ``K``.
        deconv_out_channels (Sequence[int], optional): output channels of
            each deconv layer of the keypoint branch.
            Defaults to ``(256, 256, 256)``.
        deconv_kernel_sizes (Sequence[int], optional): kernel size of each
            deconv layer (both branches). Defaults to ``(4, 4, 4)``.
        conv_out_channels (Sequence[int], optional): intermediate conv layers
            of the keypoint branch. Defaults to ``None``.
        conv_kernel_sizes (Sequence[int], optional): their kernel sizes.
            Defaults to ``None``.
        final_layer (dict): the keypoint branch's final conv.
            Defaults to ``dict(kernel_size=1)``.
        loss (dict): the keypoint (heatmap) loss, ``loss_kpt``.
            Defaults to :class:`KeypointMSELoss` with target weights.
        pixel_deconv_out_channels (Sequence[int], optional): output channels
            of the pixel branch's deconv layers, one per keypoint-branch
            deconv; ``None`` gives K channels each (ViT-B/16 in the
            published code), ``(256, 256, 256)`` is the ResNet-50 recipe.
            Defaults to ``None``.
        pixel_loss (dict, optional): the pixel-level loss; ``None`` removes
            the pixel branch and ``loss_pixel``.
            Defaults to :class:`PixelLevelLoss` with weight 0.4.
        pixel_init_cfg (dict, optional): initialisation of the pixel branch
            (a :class:`PixelBranch`); ``None`` keeps PyTorch's defaults, as
            the published code does. Defaults to ``None``.
        semantic_loss (dict, optional): the semantic-level loss; ``None``
            removes ``loss_semantic``. Defaults to
            :class:`SemanticLevelLoss` with weight 5e-4.
        decoder (dict, optional): the codec decoding the heatmaps.
            Defaults to ``None``.
        fuse_score_map (bool): concatenate the score map to the backbone map
            as the keypoint branch's input (the method); ``False`` feeds the
            backbone map alone (``in_channels`` channels), an ablation.
            Defaults to ``True``.
        init_cfg (dict, optional): initialisation of the keypoint branch;
            defaults to :class:`HeatmapHead`'s (deconvolutions and final
            conv ``N(0, 0.001)`` with zero biases, BatchNorm weight 1), as
            the published code initialises its keypoint head. The pixel
            branch re-initialises itself afterwards (``pixel_init_cfg``).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 deconv_out_channels: OptIntSeq = (256, 256, 256),
                 deconv_kernel_sizes: OptIntSeq = (4, 4, 4),
                 conv_out_channels: OptIntSeq = None,
                 conv_kernel_sizes: OptIntSeq = None,
                 final_layer: dict = dict(kernel_size=1),
                 pixel_deconv_out_channels: OptIntSeq = None,
                 pixel_init_cfg: OptConfigType = None,
                 loss: ConfigType = dict(
                     type='KeypointMSELoss', use_target_weight=True),
                 pixel_loss: OptConfigType = dict(
                     type='PixelLevelLoss',
                     use_target_weight=True,
                     loss_weight=0.4),
                 semantic_loss: OptConfigType = dict(
                     type='SemanticLevelLoss', loss_weight=5e-4),
                 decoder: OptConfigType = None,
                 fuse_score_map: bool = True,
                 init_cfg: OptConfigType = None):
        if not isinstance(in_channels, int):
            raise TypeError(
                'PromptPoseHead: in_channels must be the channel count (int) '
                f'of the last backbone map; got {in_channels!r}')
        super().__init__(
            in_channels=in_channels + (out_channels if fuse_score_map else 0),
            out_channels=out_channels,
            deconv_out_channels=deconv_out_channels,
            deconv_kernel_sizes=deconv_kernel_sizes,
            conv_out_channels=conv_out_channels,
            conv_kernel_sizes=conv_kernel_sizes,
            final_layer=final_layer,
            loss=loss,
            decoder=decoder,
            init_cfg=init_cfg)
        self.in_channels = in_channels
        self.fuse_score_map = fuse_score_map

        if pixel_loss is not None:
            self.pixel_loss_module = MODELS.build(pixel_loss)
            if pixel_deconv_out_channels is None:
                pixel_deconv_out_channels = [out_channels] * len(
                    deconv_out_channels or ())
            if len(pixel_deconv_out_channels) != len(deconv_out_channels
                                                     or ()):
                raise ValueError(
                    'PromptPoseHead: pixel_deconv_out_channels '
                    f'{tuple(pixel_deconv_out_channels)} must have one entry '
                    'per deconv layer of the keypoint branch '
                    f'{tuple(deconv_out_channels or ())}')
            self.pixel_branch = self._make_pixel_branch(
                out_channels, pixel_deconv_out_channels, deconv_kernel_sizes,
                pixel_init_cfg)
        else:
            self.pixel_loss_module = None
            self.pixel_branch = None

        if semantic_loss is not None:
            self.semantic_loss_module = MODELS.build(semantic_loss)
        else:
            self.semantic_loss_module = None

    def _make_pixel_branch(self, num_keypoints: int,
                           deconv_out_channels: Sequence[int],
                           deconv_kernel_sizes: OptIntSeq,
                           init_cfg: OptConfigType) -> PixelBranch:
        """Deconvolutions (as many as the keypoint branch) and a 1x1 conv
        to K channels, upsampling the score map to the heatmap size."""
        if deconv_out_channels:
            deconv_layers = self._make_deconv_layers(
                in_channels=num_keypoints,
                layer_out_channels=list(deconv_out_channels),
                layer_kernel_sizes=deconv_kernel_sizes)
        else:
            deconv_layers = nn.Identity()
        final_layer = build_conv_layer(
            dict(
                type='Conv2d',
                in_channels=(deconv_out_channels[-1]
                             if deconv_out_channels else num_keypoints),
                out_channels=num_keypoints,
                kernel_size=1))
        return PixelBranch(deconv_layers, final_layer, init_cfg=init_cfg)

    def _check_features(self, feats: PromptPoseFeatures) -> None:
        """Raise a clear error unless ``feats`` fits this head."""
        if not isinstance(feats, PromptPoseFeatures):
            raise TypeError(
                'PromptPoseHead expects the PromptPoseFeatures returned by '
                'PromptPoseNeck; got '
                f'{type(feats).__name__}. Set neck=dict(type="PromptPoseNeck",'
                ' ...) in the model config.')
        num_maps = feats.score_map.shape[1]
        if num_maps != self.out_channels:
            raise ValueError(
                f'PromptPoseHead: the score map has {num_maps} channels but '
                f'the head has out_channels={self.out_channels}; the neck '
                'must have one prompt per keypoint of the dataset (set the '
                'same keypoint count in the neck and the head).')
        visual = feats.visual[-1]
        if visual.shape[-2:] != feats.score_map.shape[-2:]:
            raise ValueError(
                'PromptPoseHead: the last backbone map is '
                f'{tuple(visual.shape[-2:])} but the score map is '
                f'{tuple(feats.score_map.shape[-2:])}; they are concatenated '
                'and must have the same size.')

    def forward(self, feats: PromptPoseFeatures) -> Tensor:
        """Predict heatmaps from the fused backbone map and score map.

        Args:
            feats (PromptPoseFeatures): ``visual[-1]`` ``(B, C, h, w)`` and
                ``score_map`` ``(B, K, h, w)`` are used.

        Returns:
            Tensor: heatmaps ``(B, K, H_out, W_out)``, float32 also under
            autocast (MMPose's loss and decoder read them through numpy,
            which has no bfloat16).
        """
        self._check_features(feats)
        if not self.fuse_score_map:
            return super().forward((feats.visual[-1], )).float()
        fused = torch.cat([feats.visual[-1], feats.score_map], dim=1)
        return super().forward((fused, )).float()

    def forward_pixel(self, feats: PromptPoseFeatures) -> Tensor:
        """Upsample the score map with the pixel branch.

        Args:
            feats (PromptPoseFeatures): ``score_map`` ``(B, K, h, w)`` is
                used.

        Returns:
            Tensor: pixel-level maps ``(B, K, H_out, W_out)``, the size of the
            heatmaps.
        """
        if self.pixel_branch is None:
            raise RuntimeError('PromptPoseHead was built with pixel_loss=None '
                               'and has no pixel branch.')
        self._check_features(feats)
        return self.pixel_branch(feats.score_map)

    def loss(self,
             feats: PromptPoseFeatures,
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Compute the keypoint, pixel-level and semantic-level losses.

        Args:
            feats (PromptPoseFeatures): the neck's output.
            batch_data_samples (List[PoseDataSample]): with
                ``gt_fields.heatmaps`` ``(K, H_out, W_out)``,
                ``gt_instance_labels.keypoint_weights`` ``(1, K)``, and (for
                the semantic loss) ``gt_instances.transformed_keypoints``
                ``(1, K, 2)`` and ``metainfo['input_size']`` ``(W, H)``.
            train_cfg (dict): ``compute_acc`` (default ``True``).

        Returns:
            dict: ``loss_kpt``, ``acc_pose`` (if computed), ``loss_pixel``
            and ``loss_semantic`` (when those losses are configured).
        """
        losses = super().loss(feats, batch_data_samples, train_cfg)
        if self.pixel_loss_module is not None:
            losses['loss_pixel'] = self.loss_pixel(feats, batch_data_samples)
        if self.semantic_loss_module is not None:
            losses['loss_semantic'] = self.loss_semantic(
                feats, batch_data_samples)
        return losses

    def loss_pixel(self, feats: PromptPoseFeatures,
                   batch_data_samples: OptSampleList) -> Tensor:
        """The pixel-level loss: the pixel branch's maps against the target
        heatmaps ``gt_fields.heatmaps``, weighted per keypoint.

        Returns:
            Tensor: the weighted scalar loss.
        """
        gt_heatmaps = torch.stack(
            [d.gt_fields.heatmaps for d in batch_data_samples])
        return self.pixel_loss_module(
            self.forward_pixel(feats), gt_heatmaps,
            self._keypoint_weights(batch_data_samples))

    def loss_semantic(self, feats: PromptPoseFeatures,
                      batch_data_samples: OptSampleList) -> Tensor:
        """The semantic-level loss: ``feats.dense`` sampled at the
        ground-truth keypoints, contrasted with the prompts ``feats.text``;
        only keypoints with a positive weight inside the crop take part.

        Returns:
            Tensor: the weighted scalar loss.
        """
        if self.semantic_loss_module is None:
            raise RuntimeError('PromptPoseHead was built with '
                               'semantic_loss=None and has no semantic loss.')
        keypoints, input_size = self._input_keypoints(batch_data_samples,
                                                      feats.dense.device)
        point_feats = sample_keypoint_features(feats.dense, keypoints,
                                               input_size)
        valid = (self._keypoint_weights(batch_data_samples) > 0) & (
            keypoints_inside(keypoints, input_size))
        return self.semantic_loss_module(point_feats, feats.text, valid)

    @staticmethod
    def _keypoint_weights(batch_data_samples: OptSampleList) -> Tensor:
        """``(B, K)`` from ``gt_instance_labels.keypoint_weights``."""
        return torch.cat([
            d.gt_instance_labels.keypoint_weights for d in batch_data_samples
        ])

    @staticmethod
    def _input_keypoints(batch_data_samples: OptSampleList,
                         device: torch.device
                         ) -> Tuple[Tensor, Tuple[int, int]]:
        """Gather the ground-truth keypoints in input pixels.

        Returns:
            tuple: float32 keypoints ``(B, K, 2)`` (non-finite ones moved
            far outside the crop) and the input size ``(W, H)``.
        """
        keypoints = []
        for d in batch_data_samples:
            gt_instances = d.get('gt_instances', None)
            if gt_instances is None or ('transformed_keypoints'
                                        not in gt_instances):
                raise ValueError(
                    'PromptPoseHead: the semantic-level loss needs the '
                    'ground-truth keypoints in input coordinates, but the '
                    'data samples have no gt_instances.transformed_keypoints. '
                    'Use dict(type="PackPoseInputs", pack_transformed=True) '
                    'in the training pipeline (or set semantic_loss=None).')
            keypoints.append(
                torch.as_tensor(
                    gt_instances.transformed_keypoints,
                    dtype=torch.float32,
                    device=device)[..., :2])
        keypoints = torch.cat(keypoints)
        keypoints = torch.where(keypoints.isfinite(), keypoints,
                                keypoints.new_tensor(-1e4))
        sizes = {
            tuple(int(s) for s in d.metainfo['input_size'])
            for d in batch_data_samples
        }
        if len(sizes) != 1:
            raise ValueError('PromptPoseHead: the data samples of a batch '
                             f'have different input sizes {sorted(sizes)}.')
        return keypoints, sizes.pop()
