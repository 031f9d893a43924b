"""MMPose's pose visualizer, working under numpy 2."""
import numpy as np
from mmpose.registry import VISUALIZERS
from mmpose.visualization import PoseLocalVisualizer


@VISUALIZERS.register_module()
class PromptPoseLocalVisualizer(PoseLocalVisualizer):
    """``PoseLocalVisualizer`` whose OpenCV circles accept numpy 2.

    mmpose 1.3.2 draws each keypoint with ``radius=np.array([r])`` and its
    OpenCV backend calls ``int(radius)``, which numpy 2 refuses for a
    one-element 1-d array ("only 0-dimensional arrays can be converted to
    Python scalars"). This subclass hands the backend a scalar; everything
    else is MMPose's.
    """

    def draw_circles(self,
                     center,
                     radius,
                     face_colors='none',
                     alpha=1.0,
                     **kwargs):
        if self.backend == 'opencv' and np.size(radius) == 1:
            radius = float(np.asarray(radius).reshape(-1)[0])
        return super().draw_circles(
            center, radius, face_colors=face_colors, alpha=alpha, **kwargs)
