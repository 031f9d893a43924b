from .coco_annotations import AnnotatedImage, load_coco_images
from .inference import (ANIMAL_DET_CAT_IDS, build_pose_inferencer,
                        check_bboxes, check_pose_checkpoint,
                        checkpoint_num_keypoints, config_num_keypoints,
                        draw_poses, infer_poses, pose_instances_to_json,
                        read_image, whole_image_bbox)
from .pose_comparison import (PoseComparison, compare_poses,
                              ground_truth_poses, predict_poses)
from .score_maps import PromptPoseInference, capture_prompt_features
from .semantic_similarity import (SemanticSimilarity,
                                  keypoint_prompt_similarity,
                                  keypoints_to_input, semantic_similarity)

__all__ = [
    'PromptPoseInference', 'capture_prompt_features', 'AnnotatedImage',
    'load_coco_images', 'PoseComparison', 'compare_poses',
    'ground_truth_poses', 'predict_poses', 'SemanticSimilarity',
    'keypoint_prompt_similarity', 'keypoints_to_input', 'semantic_similarity',
    'ANIMAL_DET_CAT_IDS', 'build_pose_inferencer', 'check_bboxes',
    'check_pose_checkpoint', 'checkpoint_num_keypoints',
    'config_num_keypoints', 'draw_poses', 'infer_poses',
    'pose_instances_to_json', 'read_image', 'whole_image_bbox'
]
