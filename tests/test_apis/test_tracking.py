"""Following animals through a video: per-frame boxes, search, identities.

The pose model here is a stand-in with the one property that matters for
following: like a top-down model, it sees only its crop, and only at the
scale it was trained on. It finds the drawn animal (a bright disk) nearest
the crop's centre when the crop holds most of it and the crop is 0.6-1.7
times the trained box side; otherwise it gives low scores, as a real model
does on background. The videos are real files (lossless FFV1), decoded by
the video tool.
"""
import numpy as np
import pytest

from promptpose_mm.apis import video as video_api
from promptpose_mm.apis.tracking import (LOST, DetectionTracker, Follower,
                                         Pose, Track, box_iou)
from promptpose_mm.testing.label_projects import write_video

RADIUS = 10
# keypoints: left, right, top and bottom of the disk
OFFSETS = np.array([[-RADIUS, 0], [RADIUS, 0], [0, -RADIUS], [0, RADIUS]],
                   np.float64)
SIDE = 2 * RADIUS * 1.5  # the padded square around the keypoints
SIZE = (320, 240)


class DiskPose:
    """A crop-only, scale-bound pose model of bright disks."""

    num_keypoints = 4

    def __init__(self, model=None):
        self.calls = []

    def __call__(self, images, boxes):
        from scipy import ndimage
        self.calls.append(len(images))
        points, scores = [], []
        for image, box in zip(images, boxes):
            x1, y1, x2, y2 = np.asarray(box, np.float64)
            center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
            side = max(x2 - x1, y2 - y1)
            height, width = image.shape[:2]
            crop = np.zeros((height, width), bool)
            crop[max(int(y1), 0):max(int(np.ceil(y2)), 0),
                 max(int(x1), 0):max(int(np.ceil(x2)), 0)] = True
            bright = image[..., 1] > 128
            labels, count = ndimage.label(bright)
            best = None
            for index in range(1, count + 1):
                blob = labels == index
                inside = (blob & crop).sum()
                if inside < 0.6 * blob.sum():
                    continue
                ys, xs = np.nonzero(blob)
                middle = np.array([xs.mean(), ys.mean()])
                distance = np.linalg.norm(middle - center)
                if best is None or distance < best[0]:
                    best = (distance, middle)
            if best is not None and 0.6 * SIDE <= side <= 1.7 * SIDE:
                points.append(best[1] + OFFSETS)
                scores.append(np.full(4, 0.9))
            else:
                points.append(np.tile(center, (4, 1)))
                scores.append(np.full(4, 0.05))
        return np.array(points).reshape(-1, 4,
                                        2), np.array(scores).reshape(-1, 4)


def draw(centers, size=SIZE):
    """An RGB frame (dark, a little texture) with a disk at each centre
    (None: absent)."""
    width, height = size
    rng = np.random.default_rng(len(centers))
    frame = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    ys, xs = np.mgrid[:height, :width]
    for center in centers:
        if center is None:
            continue
        disk = (xs - center[0])**2 + (ys - center[1])**2 <= RADIUS**2
        frame[disk] = 230
    return frame


def jumping_path(frames=70):
    """One animal's centre per frame (None when out of the frame): it
    walks 3 px a frame, jumps 50 px at frame 20, leaves the frame at frame
    30 and comes back elsewhere at frame 46."""
    path = []
    for t in range(frames):
        if t < 20:
            path.append((60 + 3 * t, 80 + t))
        elif t < 30:
            path.append((170 + 3 * (t - 20), 150))
        elif t < 46:
            path.append(None)
        else:
            path.append((260 - 2 * (t - 46), 60 + 2 * (t - 46)))
    return path


@pytest.fixture
def disk_model(monkeypatch):
    """The video tool's model call replaced by :class:`DiskPose`."""
    made = []

    def build(model):
        made.append(DiskPose(model))
        return made[-1]

    monkeypatch.setattr(video_api, 'TopdownBatch', build)
    return made


def test_track_finds_follows_loses_and_finds_the_animal_again(
        tmp_path, disk_model):
    path = jumping_path()
    video = str(tmp_path / 'jump.avi')
    write_video(video, [draw([p]) for p in path])
    result = video_api.analyze_video(
        None,
        video,
        'track',
        batch_size=16,
        animal_side=SIDE,
        search_every=3,
        progress=False)
    assert result.complete and result.keypoints.shape == (70, 1, 4, 2)
    states = result.states[:, 0]
    truth = np.array([p if p is not None else (np.nan, np.nan)
                      for p in path])[:, None] + OFFSETS
    # the first frame is found by a search at the trained scale
    assert states[0] == 'searched'
    # every frame with the animal before it left: found, to 0.5 px
    error = np.linalg.norm(result.keypoints[:, 0] - truth, axis=-1)
    assert (error[:30] < 0.5).all(), error[:30].max(axis=-1)
    # the 50 px jump (more than the box) is followed on the same frame
    assert states[20] in ('followed', 'searched')
    # absent frames are lost: NaN poses, no score, no box
    assert (states[30:46] == LOST).all()
    assert np.isnan(result.keypoints[30:46]).all()
    assert np.isnan(result.scores[30:46]).all()
    # back at frame 46: found again within the search interval
    back = 46 + int(np.argmax(states[46:] != LOST))
    assert back < 46 + 3
    assert states[back] == 'searched'
    assert (error[back:] < 0.5).all()
    assert (states[back + 1:] == 'followed').all()
    # each frame's box is centred on the animal it shows, within the
    # tolerance (0.15 of the side), not on a batch's last frame
    boxes = result.boxes[:, 0]
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    for t in list(range(1, 30)) + list(range(back, 70)):
        assert np.abs(centers[t] - path[t]).max() <= 0.15 * SIDE + 0.5, t


def test_track_keeps_batching(tmp_path, disk_model):
    """A steadily walking animal costs one model call per ``ahead`` (8)
    frames after the first frame's search (and a refinement)."""
    path = [(40 + 2 * t, 100) for t in range(48)]
    video = str(tmp_path / 'walk.avi')
    write_video(video, [draw([p]) for p in path])
    result = video_api.analyze_video(
        None, video, 'track', batch_size=16, animal_side=SIDE, progress=False)
    assert (result.states[1:, 0] == 'followed').all()
    calls = disk_model[-1].calls
    # the first frame's search: 315 windows of the animal's size (21 x 15,
    # stride half the side) and the candidates again; then the 47 frames
    # after it, at most one re-run of the first frames' rest while the
    # velocity is learnt, and one call per 8 frames after
    assert sum(calls) <= 315 + 16 + 47 + 2 * 15
    assert calls[-4:] == [8, 8, 8, 8]


def test_track_finds_a_small_animal_without_its_size(tmp_path, disk_model):
    """A whole-frame crop (the old first box) never finds the small
    animal; without its size the search tries several scales and does."""
    path = [(100 + t, 120) for t in range(8)]
    video = str(tmp_path / 'small.avi')
    write_video(video, [draw([p]) for p in path])
    whole = video_api.analyze_video(
        None, video, 'fixed', boxes=[[0, 0, *SIZE]], progress=False)
    assert (whole.scores < 0.3).all()
    found = video_api.analyze_video(None, video, 'track', progress=False)
    assert (found.states[:, 0] != LOST).all()
    truth = np.array(path, float)[:, None] + OFFSETS
    np.testing.assert_allclose(found.keypoints[:, 0], truth, atol=0.5)


def test_two_animals_keep_their_identities(tmp_path, disk_model):
    """Two animals pass each other (40 px apart vertically); each keeps its
    slot on every frame, given as two first-frame boxes."""
    frames = 40
    a = [(40 + 6 * t, 100) for t in range(frames)]
    b = [(280 - 6 * t, 140) for t in range(frames)]
    video = str(tmp_path / 'two.avi')
    write_video(video, [draw([p, q]) for p, q in zip(a, b)])
    boxes = [[a[0][0] - 15, a[0][1] - 15, a[0][0] + 15, a[0][1] + 15],
             [b[0][0] - 15, b[0][1] - 15, b[0][0] + 15, b[0][1] + 15]]
    result = video_api.analyze_video(
        None,
        video,
        'track',
        boxes=boxes,
        batch_size=8,
        animal_side=SIDE,
        progress=False)
    assert result.keypoints.shape == (frames, 2, 4, 2)
    assert (result.states != LOST).all()
    for slot, path in enumerate((a, b)):
        truth = np.array(path, float)[:, None] + OFFSETS
        np.testing.assert_allclose(result.keypoints[:, slot], truth, atol=0.5)
    # without boxes: two animals found by the first search, then kept
    found = video_api.analyze_video(
        None, video, 'track', num_animals=2, animal_side=SIDE, progress=False)
    first = found.keypoints[0].mean(axis=1)  # (2, 2) centres
    order = np.argsort([np.linalg.norm(first[n] - a[0]) for n in range(2)])
    for slot, path in zip(order, (a, b)):
        truth = np.array(path, float)[:, None] + OFFSETS
        np.testing.assert_allclose(found.keypoints[:, slot], truth, atol=0.5)


def test_padding_zero_and_bad_settings():
    run = DiskPose()
    follower = Follower(run, padding=0.0, animal_side=20)
    points = np.array([[0, 0], [10, 0], [0, 20], [10, 20]], float)
    center, side = follower.pose_box(points, np.full(4, 0.9), 0.0)
    np.testing.assert_allclose(center, [5, 10])
    assert side == 20  # not grown: padding 0 is kept
    with pytest.raises(ValueError, match='search_every'):
        Follower(run, search_every=0)
    with pytest.raises(ValueError, match='x2 > x1'):
        Follower(run, boxes=[[10, 10, 5, 20]])
    with pytest.raises(ValueError, match='at least one animal'):
        Follower(run, num_animals=0)


def test_a_partly_seen_animal_keeps_its_box_centre():
    """Two of eight keypoints confident, both on the animal's left, another
    animal followed far away: the box moves no further than it takes to
    hold them (padded), instead of centring on them; alone, or with all
    eight confident, it centres on their extent."""
    follower = Follower(DiskPose(), padding=0.25, animal_side=40)
    track = Track(np.array([100., 100.]), 40.0, 0)
    points = np.array([[85., 98.], [90., 102.]] + [[110., 100.]] * 6)
    scores = np.array([0.9, 0.9] + [0.1] * 6)
    box = np.array([80., 80., 120., 120.])
    far = np.array([[300., 300.]])
    center, side = follower.follow_box(track, Pose(points, scores, box), far)
    assert side == 40.0  # partial: not shrunk
    np.testing.assert_allclose(center, [100., 100.])
    alone, _ = follower.follow_box(track, Pose(points, scores, box))
    np.testing.assert_allclose(alone, [87.5, 100.])
    # the two points at the box's right edge: the box moves just enough
    right = Pose(points + [34., 0.], scores, box)
    center, _ = follower.follow_box(track, right, far)
    # x: max 124 + pad 0.25 * 5 - 20 = 105.25; y stays
    np.testing.assert_allclose(center, [105.25, 100.])
    whole = Pose(
        np.array([[84., 90.], [116., 110.]] * 4), np.full(8, 0.9), box)
    center, side = follower.follow_box(track, whole, far)
    np.testing.assert_allclose(center, [100., 100.])
    assert side == pytest.approx(32 * 1.5)


def test_detection_tracker_keeps_identities_through_a_crossing():
    """Two detected animals cross paths diagonally, listed in a random
    order on each frame, one missed on two frames: each keeps its slot."""
    rng = np.random.default_rng(0)
    tracker = DetectionTracker(max_animals=2)
    seen = {0: [], 1: []}
    for t in range(30):
        a = np.array([10 + 8 * t, 10 + 5 * t], float)
        b = np.array([250 - 8 * t, 10 + 5 * t + 12], float)
        boxes = {0: np.r_[a - 10, a + 10], 1: np.r_[b - 10, b + 10]}
        present = [0, 1] if t not in (14, 15) else [0]
        order = rng.permutation(present)
        slots = tracker(np.stack([boxes[i] for i in order]), t)
        for animal, slot in zip(order, slots):
            seen[animal].append(int(slot))
    assert set(seen[0]) == {seen[0][0]}
    assert set(seen[1]) == {seen[1][0]}
    assert seen[0][0] != seen[1][0]
    # a third detection with both identities taken is left out
    slots = tracker(np.array([[0, 0, 5, 5], [1, 1, 6, 6], [2, 2, 9, 9]]), 30)
    assert (slots < 0).sum() == 1


def test_box_iou_by_hand():
    iou = box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou, [[50 / 150, 0]])


def test_a_decode_error_keeps_the_frames_before(tmp_path, disk_model,
                                                monkeypatch):
    """Frame 5 of 12 cannot be decoded: frames 0-4 come back, the error
    names the frame, the run is incomplete."""
    import sleap_io as sio
    path = [(60 + t, 100) for t in range(12)]
    video = str(tmp_path / 'broken.avi')
    write_video(video, [draw([p]) for p in path])
    original = sio.Video.__getitem__

    def failing(self, index):
        if index == 5:
            raise OSError('corrupt packet')
        return original(self, index)

    monkeypatch.setattr(sio.Video, '__getitem__', failing)
    result = video_api.analyze_video(
        None, video, 'track', batch_size=4, animal_side=SIDE, progress=False)
    assert not result.complete
    assert len(result.keypoints) == 5
    assert 'frame 5 cannot be decoded' in result.error
    assert 'broken.avi' in result.error
    assert (result.states[:, 0] != LOST).all()
