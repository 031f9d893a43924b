"""SLEAP's files (``io.sleap``): labels files read with their frames.

The files are written by promptpose_mm.testing.label_projects with sleap-io,
with drawn animals whose exact points are known.
"""
import os.path as osp
import shutil

import numpy as np

from promptpose_mm.io.sleap import read_sleap_labels
from promptpose_mm.testing.label_projects import write_sleap_file


def labelled_animals(points: np.ndarray) -> np.ndarray:
    return points[~np.isnan(points).all(-1).all(-1)]


def test_sleap_package_with_embedded_frames(tmp_path):
    from PIL import Image
    path = str(tmp_path / 'pkg.pkg.slp')
    drawn = write_sleap_file(path, frames=3, embed=True, seed=1)
    originals = [
        np.asarray(Image.open(tmp_path / 'pkg_frames' / f'frame{i:03d}.png'))
        for i in range(3)
    ]
    shutil.rmtree(tmp_path / 'pkg_frames')  # the package alone
    labels = read_sleap_labels(path, str(tmp_path / 'out'))
    assert len(labels.frames) == 3
    for frame, truth, original in zip(labels.frames, drawn, originals):
        np.testing.assert_array_equal(frame.instances,
                                      labelled_animals(truth.points))
        written = np.asarray(
            Image.open(osp.join(labels.image_root, frame.file_name)))
        # the embedded frame, decoded and written again, pixel for pixel
        np.testing.assert_array_equal(written, original)
