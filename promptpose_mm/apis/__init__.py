"""The inference API: build a model from a config, load a checkpoint,
predict poses on images (and over videos) and draw them."""
from .builder import (build_inference_model, build_random_model, init_model,
                      load_config)
from .inference import (ANIMAL_DET_CAT_IDS, build_pose_inferencer,
                        check_bboxes, check_pose_checkpoint,
                        checkpoint_num_keypoints, config_num_keypoints,
                        draw_poses, infer_poses, pose_instances_to_json,
                        read_image, whole_image_bbox)
from .video import (BOX_SOURCES, VideoError, VideoPrediction, analyze_video,
                    box_source_warning, default_box_source, open_video)

__all__ = [
    'build_inference_model', 'build_random_model', 'init_model', 'load_config',
    'ANIMAL_DET_CAT_IDS', 'build_pose_inferencer', 'check_bboxes',
    'check_pose_checkpoint', 'checkpoint_num_keypoints',
    'config_num_keypoints', 'draw_poses', 'infer_poses',
    'pose_instances_to_json', 'read_image', 'whole_image_bbox', 'BOX_SOURCES',
    'VideoError', 'VideoPrediction', 'analyze_video', 'box_source_warning',
    'default_box_source', 'open_video'
]
