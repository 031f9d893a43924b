"""onnxruntime as a backend of MMPose's top-down estimator.

:func:`onnxruntime_config` turns a pose config into one whose estimator runs
an exported file (:func:`~.onnx_export.export_onnx`):
:class:`OnnxRuntimeModel` in the backbone slot gives the heatmaps, and the
head is MMPose's ``HeatmapHead`` without layers (a pass-through) that keeps
the config's codec and ``test_cfg``. The data preprocessor, test pipeline,
flip test, decoding and MMPose's inferencer are the PyTorch model's own.
"""
import copy
import json
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor

from promptpose_mm.utils.keypoint_names import (humanize_keypoint_name,
                                                keypoint_names_from_metainfo)
from .onnx_export import INPUT_NAME, METADATA_KEYS


def is_onnx_file(path: Optional[str]) -> bool:
    """Whether ``path`` names an exported ``.onnx`` file."""
    return bool(path) and str(path).lower().endswith('.onnx')


def _missing_file_error(model_file: str) -> FileNotFoundError:
    return FileNotFoundError(
        f'ONNX model {model_file} does not exist: write it with '
        'tools/deployment/export_onnx.py CONFIG CHECKPOINT OUT.onnx')


def read_onnx_metadata(model_file: str) -> Dict[str, str]:
    """The ``metadata_props`` of an ONNX file, read with ``onnx`` (no
    onnxruntime session is built: a tool checks the file with this before
    it builds the one session that runs it).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an ONNX model.
    """
    import onnx
    if not osp.isfile(model_file):
        raise _missing_file_error(model_file)
    try:
        proto = onnx.load(model_file)
    except Exception as error:  # protobuf's DecodeError and others
        raise ValueError(
            f'ONNX model {model_file} cannot be loaded (not an ONNX '
            f'model: {error}); export it again') from error
    return {entry.key: entry.value for entry in proto.metadata_props}


def check_onnx_metadata(model_file: str,
                        metadata: Dict[str, str],
                        num_keypoints: Optional[int] = None,
                        input_size: Optional[Sequence[int]] = None,
                        keypoint_names: Optional[Sequence[str]] = None
                        ) -> None:
    """Check that an exported file's metadata fits the config.

    Args:
        model_file (str): the file (for messages).
        metadata (dict): its ``metadata_props``.
        num_keypoints (int, optional): the config's ``K``.
        input_size (Sequence[int], optional): the config's crop
            ``(width, height)``.
        keypoint_names (Sequence[str], optional): the config's keypoint
            names in order (compared humanized, as the prompts read them).

    Raises:
        ValueError: not written by promptpose_mm, or another ``K``, crop
            size or keypoint names than the config's; the message names the
            file and the fix.
    """
    if not all(key in metadata for key in METADATA_KEYS):
        raise ValueError(f'{model_file} was not written by promptpose_mm '
                         '(no promptpose_mm metadata): export it with '
                         'tools/deployment/export_onnx.py')
    found_k = int(metadata['promptpose_mm.num_keypoints'])
    if num_keypoints is not None and found_k != num_keypoints:
        raise ValueError(
            f'{model_file} predicts {found_k} keypoints but the config has '
            f'{num_keypoints}: pass the config it was exported from')
    size = metadata['promptpose_mm.input_size']
    if input_size is not None and size != '{}x{}'.format(*input_size):
        raise ValueError(
            f'{model_file} was exported for {size} crops but the config '
            'crops {}x{}: export it again with this config'.format(
                *input_size))
    if keypoint_names is not None:
        found = [
            humanize_keypoint_name(name)
            for name in json.loads(metadata['promptpose_mm.keypoint_names'])
        ]
        wanted = [humanize_keypoint_name(name) for name in keypoint_names]
        if found != wanted:
            raise ValueError(
                f'{model_file} predicts the keypoints {found} but the config '
                f'names {wanted}: pass the config it was exported from (the '
                'heatmaps would be given the wrong names)')


@MODELS.register_module()
class OnnxRuntimeModel(BaseModule):
    """An exported image-to-heatmaps model run by onnxruntime.

    Args:
        model_file (str): the ``.onnx`` file.
        num_keypoints (int, optional): the ``K`` the config expects; checked
            against the file's.
        input_size (Sequence[int], optional): the config's crop ``(width,
            height)``; checked against the file's.
        keypoint_names (Sequence[str], optional): the config's keypoint
            names; checked against the file's.
        providers (Sequence[str]): onnxruntime execution providers.
        num_threads (int): intra-op threads; 0 lets onnxruntime choose.
    """

    def __init__(self,
                 model_file: str,
                 num_keypoints: Optional[int] = None,
                 input_size: Optional[Sequence[int]] = None,
                 keypoint_names: Optional[Sequence[str]] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 num_threads: int = 0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        import onnxruntime as ort
        if not osp.isfile(model_file):
            raise _missing_file_error(model_file)
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        try:
            self.session = ort.InferenceSession(
                model_file, options, providers=list(providers))
        except Exception as error:  # onnxruntime raises its own types
            raise ValueError(
                f'ONNX model {model_file} cannot be loaded by onnxruntime '
                f'({error}); export it again') from error
        self.model_file = model_file
        self.metadata = self.session.get_modelmeta().custom_metadata_map
        check_onnx_metadata(model_file, self.metadata, num_keypoints,
                            input_size, keypoint_names)

    @property
    def keypoint_names(self) -> list:
        return json.loads(self.metadata['promptpose_mm.keypoint_names'])

    def forward(self, inputs: Tensor) -> Tuple[Tensor]:
        """Heatmaps of normalised crops.

        Args:
            inputs (Tensor): ``(B, 3, H, W)``.

        Returns:
            tuple[Tensor]: the heatmaps ``(B, K, H_out, W_out)``, on the
            inputs' device.
        """
        array = np.ascontiguousarray(inputs.detach().to('cpu',
                                                        torch.float32).numpy())
        heatmaps, = self.session.run(None, {INPUT_NAME: array})
        return (torch.from_numpy(heatmaps).to(inputs.device), )


def onnxruntime_config(cfg: Config, model_file: str) -> Config:
    """``cfg`` with its estimator running ``model_file`` in onnxruntime.

    Args:
        cfg (Config): the pose config the file was exported from, its
            keypoints filled in (``load_config``).
        model_file (str): the exported ``.onnx`` file.

    Returns:
        Config: a copy whose ``model`` is a ``TopdownPoseEstimator`` with
        the same data preprocessor, codec and ``test_cfg``.
    """
    cfg = copy.deepcopy(cfg)
    head = cfg.model.head
    num_keypoints = head.get('out_channels')
    metainfo = cfg.model.get('metainfo')
    names = None
    if metainfo is not None:
        names = keypoint_names_from_metainfo(metainfo)
        if num_keypoints is None:
            num_keypoints = len(names)
    codec = head.get('decoder')
    cfg.model = dict(
        type='TopdownPoseEstimator',
        metainfo=metainfo,
        data_preprocessor=cfg.model.get('data_preprocessor'),
        backbone=dict(
            type='OnnxRuntimeModel',
            model_file=model_file,
            num_keypoints=num_keypoints,
            keypoint_names=names,
            input_size=tuple(codec['input_size']) if codec else None),
        head=dict(
            type='HeatmapHead',
            in_channels=num_keypoints,
            out_channels=num_keypoints,
            deconv_out_channels=None,
            final_layer=None,
            decoder=codec),
        test_cfg=cfg.model.get('test_cfg', {}))
    cfg.load_from = None
    return cfg
