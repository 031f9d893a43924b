"""Deployment: an eval-mode pose model as one image-to-heatmaps graph with
the image-independent prompts folded in as constants (ONNX export), and
onnxruntime as a backend that MMPose's estimator, test pipeline, flip test,
decoding and inferencer run unchanged. The command lines are in
``tools/deployment/``."""
from .folded import FoldedPoseModel
from .onnx_export import export_onnx, onnx_metadata, verify_onnx
from .onnxruntime_model import (OnnxRuntimeModel, check_onnx_metadata,
                                is_onnx_file, onnxruntime_config,
                                read_onnx_metadata)

__all__ = [
    'FoldedPoseModel', 'export_onnx', 'onnx_metadata', 'verify_onnx',
    'OnnxRuntimeModel', 'check_onnx_metadata', 'is_onnx_file',
    'onnxruntime_config', 'read_onnx_metadata'
]
