"""Video files (``io.video``): predictions drawn on their video, checked
pixel by pixel on a flat frame."""
import numpy as np

from promptpose_mm.io.poses import VideoPoses
from promptpose_mm.io.video import render_labelled_video
from promptpose_mm.testing.label_projects import MOUSE_PARTS, write_video


def assert_drawn_at(drawn: np.ndarray, source: np.ndarray,
                    points: np.ndarray) -> None:
    """Each of ``points`` (``(P, 2)``) has a pixel within 2 px that the
    drawing changed (by more than 60 of 255 in a channel); pixels further
    than 12 px from every point barely changed (video codec noise)."""
    source = np.asarray(source)
    if source.shape[-1] == 1:
        source = np.repeat(source, 3, axis=-1)
    # the encoder pads odd sizes on the right and at the bottom
    drawn = drawn[:source.shape[0], :source.shape[1], :3].astype(int)
    changed = np.abs(drawn - source.astype(int)).max(axis=-1) > 60
    ys, xs = np.mgrid[:changed.shape[0], :changed.shape[1]]
    near = np.zeros_like(changed)
    for x, y in points:
        distance = np.hypot(xs - x, ys - y)
        assert changed[distance <= 2].any(), f'no point drawn at {x, y}'
        near |= distance <= 12
    assert changed[~near].mean() < 0.01


def test_labelled_video_draws_each_point_where_it_is(tmp_path):
    """Points at known places on a flat frame: each drawn where it is, the
    one under the score cut-off and the lost animal not at all."""
    import sleap_io as sio
    frames, size = 4, (96, 80)
    video = str(tmp_path / 'flat.avi')
    write_video(video, [np.full((80, 96, 3), 90, np.uint8)] * frames)
    points = np.zeros((frames, 2, 4, 2))
    for t in range(frames):
        points[t, 0] = [[20 + 5 * t, 20], [30 + 5 * t, 25], [25, 50],
                        [70, 60 - 5 * t]]
    points[:, 1] = np.nan  # a lost second animal
    scores = np.full((frames, 2, 4), 0.9)
    scores[:, 0, 2] = 0.1  # under the cut-off: not drawn
    scores[:, 1] = np.nan
    poses = VideoPoses(video, points, scores, MOUSE_PARTS, [], 10.0, 'pp')
    out = render_labelled_video(poses, str(tmp_path / 'drawn.mp4'), 0.3)
    drawn = sio.load_video(out)
    assert drawn.shape[:3] == (frames, size[1], size[0])
    flat = np.full((80, 96, 3), 90, np.uint8)
    for t in range(frames):
        image = np.asarray(drawn[t])
        assert_drawn_at(image, flat, points[t, 0, [0, 1, 3]])
        hidden = points[t, 0, 2]
        around = image[int(hidden[1]) - 2:int(hidden[1]) + 3,
                       int(hidden[0]) - 2:int(hidden[0]) + 3, :3]
        assert np.abs(around.astype(int) - 90).max() <= 20
