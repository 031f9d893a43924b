"""PromptPose inference on images through MMPose's own inferencer.

No inferencer class of our own: :func:`build_pose_inferencer` checks the
inputs and returns MMPose's ``MMPoseInferencer`` for a PromptPose config and
checkpoint, with an mmdet detector (for example an RTMDet config restricted
to the COCO animal categories) or with the whole image as the box.
:func:`infer_poses` runs it on one image: on given boxes through
``mmpose.apis.inference_topdown`` on the inferencer's model, otherwise
through the inferencer (detector, then pose). What is added to MMPose is
only what it lacks:

* clear errors for an unreadable image, a missing or corrupt checkpoint, a
  checkpoint of another keypoint count (MMEngine would load it non-strictly,
  with a warning, and predict garbage), bad boxes;
* the numpy-2 safe visualizer (``PromptPoseLocalVisualizer``) whenever a
  config asks for MMPose's plain ``PoseLocalVisualizer``;
* predictions as plain JSON-ready dicts, and drawing to a file;
* an exported ``.onnx`` file as the checkpoint runs in onnxruntime
  (:mod:`promptpose_mm.deployment`), with the same pipeline and flip test.
"""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.runner import CheckpointLoader
from mmpose.apis import MMPoseInferencer, inference_topdown
from mmpose.apis.inferencers.utils import default_det_models
from mmpose.structures import PoseDataSample, merge_data_samples

from promptpose_mm.deployment import (check_onnx_metadata, is_onnx_file,
                                      onnxruntime_config, read_onnx_metadata)
from promptpose_mm.utils.checkpoint import load_checkpoint_file
from promptpose_mm.utils.keypoint_names import keypoint_names_from_metainfo
from .builder import load_config, with_precision

# COCO class indices (0-based, 80 classes) of the mammals: cat, dog, horse,
# sheep, cow, elephant, bear, zebra, giraffe; MMPose's choice for animals
ANIMAL_DET_CAT_IDS = tuple(default_det_models['animal']['cat_ids'])

# the key whose first dimension is the number of keypoints a top-down
# heatmap head predicts (PromptPoseHead and MMPose's HeatmapHead)
HEAD_KEYPOINT_KEY = 'head.final_layer.weight'

ConfigType = Union[str, Config]


def read_image(path: str) -> np.ndarray:
    """Read an image file, failing clearly when it cannot be decoded.

    Args:
        path (str): image file.

    Returns:
        np.ndarray: the image, BGR uint8 ``(H, W, 3)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an image OpenCV can decode.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'image {path} does not exist (or is not a file): pass image '
            'files or a folder of them')
    img = mmcv.imread(path, channel_order='bgr')
    if img is None:
        raise ValueError(
            f'cannot read image {path}: the file is empty, truncated or not '
            'an image (OpenCV could not decode it); replace or remove it')
    return img


def whole_image_bbox(img: np.ndarray) -> np.ndarray:
    """The box of the whole image, as MMPose uses without a detector.

    Args:
        img (np.ndarray): image ``(H, W, C)``.

    Returns:
        np.ndarray: ``[[0, 0, W, H]]``, float32 ``(1, 4)``, xyxy.
    """
    height, width = img.shape[:2]
    return np.array([[0, 0, width, height]], dtype=np.float32)


def check_bboxes(bboxes: Union[Sequence, np.ndarray],
                 source: str = 'bboxes') -> np.ndarray:
    """Validate boxes given by the user.

    Args:
        bboxes (Sequence | np.ndarray): ``(N, 4)`` boxes, xyxy pixels.
        source (str): where they came from, for the error message.

    Returns:
        np.ndarray: float32 ``(N, 4)``.

    Raises:
        ValueError: wrong shape, non-finite values or an empty box.
    """
    boxes = np.asarray(bboxes, dtype=np.float32)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f'{source}: boxes must be (N, 4) as x1 y1 x2 y2, got shape '
            f'{np.shape(bboxes)}')
    for box in boxes:
        if not np.isfinite(box).all() or box[2] <= box[0] or \
                box[3] <= box[1]:
            raise ValueError(
                f'{source}: box {box.tolist()} is not x1 y1 x2 y2 with '
                'x2 > x1 and y2 > y1 (a COCO box is x y w h: add x and y '
                'to w and h)')
    return boxes


def _load_config(config: ConfigType) -> Config:
    """The config (copied), its keypoints filled in from its dataset."""
    if not isinstance(config, Config) and not osp.isfile(config):
        raise FileNotFoundError(
            f'config {config} does not exist: pass a PromptPose config such '
            'as configs/promptpose_res50_ap10k.py')
    return load_config(config)


def _config_name(cfg: Config) -> str:
    return cfg.filename or 'the given config'


def config_num_keypoints(cfg: Config) -> int:
    """The number of keypoints a top-down config predicts.

    Args:
        cfg (Config): the pose config.

    Returns:
        int: ``model.head.out_channels``, else the number of keypoints of
        ``model.metainfo`` (which a ``PromptPoseEstimator`` gives its head).
    """
    model = cfg.get('model', {})
    head = model.get('head')
    if head is None or 'out_channels' not in head:
        raise ValueError(
            f'config {_config_name(cfg)} has no model.head.out_channels: it '
            'is not a top-down pose config (use a configs/promptpose_*.py '
            'file)')
    if head['out_channels'] is None and model.get('metainfo') is not None:
        return len(keypoint_names_from_metainfo(model['metainfo']))
    return int(head['out_channels'])


def checkpoint_num_keypoints(checkpoint: dict) -> Optional[int]:
    """The number of keypoints a loaded checkpoint predicts.

    Args:
        checkpoint (dict): ``torch.load`` output; an MMEngine checkpoint
            (``{'state_dict': ..., 'meta': ...}``) or a bare state dict.

    Returns:
        int | None: the output channels of ``head.final_layer``, else the
        ``num_keypoints`` of its dataset meta, else None.
    """
    state = checkpoint.get('state_dict', checkpoint)
    for key in (HEAD_KEYPOINT_KEY, 'module.' + HEAD_KEYPOINT_KEY):
        if key in state and hasattr(state[key], 'shape'):
            return int(state[key].shape[0])
    meta = checkpoint.get('meta') or {}
    dataset_meta = meta.get('dataset_meta') or {}
    if 'num_keypoints' in dataset_meta:
        return int(dataset_meta['num_keypoints'])
    return None


def check_pose_checkpoint(checkpoint: str, config: ConfigType) -> dict:
    """Check that a pose checkpoint exists, loads and fits the config.

    Args:
        checkpoint (str): local ``.pth`` file (or a URL MMEngine loads).
        config (str | Config): the pose config it is meant for.

    Returns:
        dict: the loaded checkpoint.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable (truncated, not a PyTorch file), without
            pose head weights, or with another number of keypoints than
            the config's ``model.head.out_channels``.
    """
    cfg = _load_config(config)
    if is_onnx_file(checkpoint):
        # the file's own checks: it exists, loads, fits K and the crop;
        # from its metadata, without the onnxruntime session that the
        # model builds afterwards
        expected = onnxruntime_config(cfg, checkpoint).model.backbone
        metadata = read_onnx_metadata(checkpoint)
        check_onnx_metadata(checkpoint, metadata, expected.num_keypoints,
                            expected.input_size, expected.keypoint_names)
        return dict(meta=dict(onnx_metadata=metadata))
    is_url = '://' in checkpoint
    if not is_url and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'checkpoint {checkpoint} does not exist: pass the .pth file '
            'training wrote (work_dirs/<config name>/best_coco_AP_epoch_*.pth'
            ' or epoch_*.pth) or a released PromptPose checkpoint')
    # local files: load_checkpoint_file's errors (unreadable, or refused
    # for safety), each naming the file
    loaded = (
        CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        if is_url else load_checkpoint_file(checkpoint))
    if not isinstance(loaded, dict):
        raise ValueError(
            f'checkpoint {checkpoint} holds a {type(loaded).__name__}, not '
            'a state dict: pass a checkpoint MMEngine saved (torch.save of '
            "{'state_dict': model.state_dict(), 'meta': ...})")
    state = loaded.get('state_dict', loaded)
    if not any(key.startswith(('head.', 'module.head.')) for key in state):
        raise ValueError(
            f'checkpoint {checkpoint} has no pose head weights (no head.* '
            'keys): it is not a top-down pose checkpoint (a CLIP or detector '
            'file?); pass the checkpoint training wrote')
    expected = config_num_keypoints(cfg)
    found = checkpoint_num_keypoints(loaded)
    if found is not None and found != expected:
        raise ValueError(
            f'checkpoint {checkpoint} predicts {found} keypoints but config '
            f'{_config_name(cfg)} predicts {expected} '
            '(model.head.out_channels): pass the config the checkpoint was '
            'trained with, or a checkpoint trained on a '
            f'{expected}-keypoint dataset')
    return loaded


def _with_safe_visualizer(cfg: Config) -> Config:
    """Swap MMPose's plain visualizer for its numpy-2 safe subclass."""
    visualizer = cfg.get('visualizer')
    if visualizer is None:
        cfg.visualizer = dict(type='PromptPoseLocalVisualizer')
    elif visualizer.get('type') in ('PoseLocalVisualizer',
                                    'mmpose.PoseLocalVisualizer'):
        visualizer.type = 'PromptPoseLocalVisualizer'
    return cfg


def _check_detector(det_config: str, det_checkpoint: Optional[str]) -> None:
    if not det_config.endswith('.py') and not osp.exists(det_config):
        return  # an mmdet model name: mmdet resolves it and its weights
    if not osp.isfile(det_config):
        raise FileNotFoundError(
            f'detector config {det_config} does not exist: pass an mmdet '
            'config, e.g. mmpose demo/mmdetection_cfg/'
            'rtmdet_m_8xb32-300e_coco.py')
    if Config.fromfile(det_config).get('default_scope') is None:
        raise ValueError(
            f'detector config {det_config} sets no default_scope: add '
            'default_scope = "mmdet" (or inherit the default_runtime.py of '
            'mmdet)')
    if det_checkpoint is None:
        raise ValueError(
            f'detector config {det_config} given without a checkpoint: it '
            'would detect with random weights; pass its .pth file')
    if '://' not in det_checkpoint and not osp.isfile(det_checkpoint):
        raise FileNotFoundError(
            f'detector checkpoint {det_checkpoint} does not exist: pass the '
            f'.pth file of {det_config}')


def build_pose_inferencer(config: ConfigType,
                          checkpoint: str,
                          det_config: Optional[str] = None,
                          det_checkpoint: Optional[str] = None,
                          det_cat_ids: Sequence[int] = ANIMAL_DET_CAT_IDS,
                          device: Optional[str] = None,
                          precision: Optional[str] = None) -> MMPoseInferencer:
    """MMPose's inferencer for a PromptPose model, after checking inputs.

    Args:
        config (str | Config): PromptPose (or any top-down) pose config.
        checkpoint (str): its trained weights; checked with
            :func:`check_pose_checkpoint`.
        det_config (str, optional): mmdet config file (or mmdet model
            name); None: the whole image is the box.
        det_checkpoint (str, optional): the detector's weights (required
            with a config file).
        det_cat_ids (Sequence[int]): detector classes kept; COCO mammals by
            default.
        device (str, optional): ``'cpu'``, ``'cuda:0'``...; None: CUDA when
            available.
        precision (str, optional): the pose model's inference precision
            (see :func:`~promptpose_mm.apis.init_model`).

    Returns:
        MMPoseInferencer: ready to call; ``.inferencer.model`` is the pose
        model, ``.inferencer.visualizer`` its visualizer and
        ``.inferencer.detector`` the detector or None.
    """
    cfg = _with_safe_visualizer(_load_config(config))
    check_pose_checkpoint(checkpoint, cfg)
    cfg = with_precision(cfg, precision, device, checkpoint)
    if det_config is not None:
        _check_detector(det_config, det_checkpoint)
    weights = checkpoint
    if is_onnx_file(checkpoint):
        # the estimator runs the file: nothing for MMEngine to load
        cfg, weights = onnxruntime_config(cfg, checkpoint), None
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*[Cc]heckpoint is not')
        return MMPoseInferencer(
            pose2d=cfg,
            pose2d_weights=weights,
            device=device,
            det_model=det_config if det_config is not None else 'whole_image',
            det_weights=det_checkpoint,
            det_cat_ids=tuple(det_cat_ids))


def infer_poses(inferencer: MMPoseInferencer,
                image: Union[str, np.ndarray],
                bboxes: Optional[Union[Sequence, np.ndarray]] = None,
                bbox_thr: float = 0.3,
                nms_thr: float = 0.3) -> PoseDataSample:
    """Poses of the animals in one image.

    Args:
        inferencer (MMPoseInferencer): from :func:`build_pose_inferencer`.
        image (str | np.ndarray): image file, or BGR array ``(H, W, 3)``.
        bboxes (Sequence | np.ndarray, optional): boxes ``(N, 4)``, xyxy
            pixels. None: the inferencer's detector (boxes scoring above
            ``bbox_thr`` of ``det_cat_ids``, NMS at ``nms_thr``), or the
            whole image without one. As in MMPose, no box at all (zero
            boxes given or detected) means the whole image.
        bbox_thr (float): detector score threshold.
        nms_thr (float): IoU threshold of MMPose's box NMS.

    Returns:
        PoseDataSample: ``pred_instances`` with ``keypoints`` ``(N, K, 2)``,
        ``keypoint_scores`` ``(N, K)``, ``bboxes`` ``(N, 4)`` and
        ``bbox_scores`` ``(N,)``, in image pixels.
    """
    img = read_image(image) if isinstance(image, str) else image
    pose2d = inferencer.inferencer
    if bboxes is None and getattr(pose2d, 'detector', None) is not None:
        result = next(
            inferencer(
                img,
                return_datasamples=True,
                bbox_thr=bbox_thr,
                nms_thr=nms_thr))
        return result['predictions'][0]
    boxes = None if bboxes is None else check_bboxes(bboxes)
    if boxes is None or len(boxes) == 0:
        boxes = whole_image_bbox(img)
    return merge_data_samples(inference_topdown(pose2d.model, img, boxes))


def pose_instances_to_json(sample: PoseDataSample) -> List[Dict]:
    """The predicted instances as JSON-ready dicts.

    Args:
        sample (PoseDataSample): from :func:`infer_poses`.

    Returns:
        list[dict]: per instance ``keypoints`` (K x [x, y]),
        ``keypoint_scores`` (K), ``bbox`` ([x1, y1, x2, y2]) and
        ``bbox_score``.
    """
    pred = sample.pred_instances
    instances = []
    for index in range(len(pred.keypoints)):
        instance = dict(
            keypoints=np.asarray(pred.keypoints[index]).tolist(),
            keypoint_scores=np.asarray(pred.keypoint_scores[index]).tolist())
        if 'bboxes' in pred:
            instance['bbox'] = np.asarray(pred.bboxes[index]).tolist()
        if 'bbox_scores' in pred:
            instance['bbox_score'] = float(pred.bbox_scores[index])
        instances.append(instance)
    return instances


def draw_poses(inferencer: MMPoseInferencer,
               image: Union[str, np.ndarray],
               sample: PoseDataSample,
               out_file: str,
               kpt_thr: float = 0.3,
               radius: int = 4,
               thickness: int = 2,
               draw_bbox: bool = True) -> np.ndarray:
    """Draw predictions with the inferencer's visualizer and save them.

    Args:
        inferencer (MMPoseInferencer): the one that predicted ``sample``.
        image (str | np.ndarray): the image file, or BGR array.
        sample (PoseDataSample): from :func:`infer_poses`.
        out_file (str): image file to write.
        kpt_thr (float): keypoints scoring below it are not drawn.
        radius (int): keypoint radius, pixels.
        thickness (int): limb width, pixels.
        draw_bbox (bool): draw the boxes too.

    Returns:
        np.ndarray: the drawing, RGB uint8 ``(H, W, 3)``.
    """
    img = read_image(image) if isinstance(image, str) else image
    visualizer = inferencer.inferencer.visualizer
    visualizer.radius = radius
    visualizer.line_width = thickness
    return visualizer.add_datasample(
        osp.basename(out_file),
        mmcv.bgr2rgb(img),
        data_sample=sample,
        draw_gt=False,
        draw_bbox=draw_bbox,
        kpt_thr=kpt_thr,
        show=False,
        out_file=out_file)
