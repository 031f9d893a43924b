"""Tests of promptpose_mm.analysis.figures against drawings known by hand.

Each figure is drawn from a small synthetic input and its saved PNG is read
back: where a keypoint, a matrix cell or a score peak must be, the PNG has
the colour it must have, and elsewhere the background is untouched.

Data coordinates are mapped to PNG pixels through the drawn figure's own
transforms (``ax.transData``) rather than through guessed margins: the
``saved_figures`` fixture records each figure as ``Figure.savefig`` writes
it, with the box that a tight save crops it to, so the mapping holds
whatever the layout, and the PNG's size checks the box.
"""
import math

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image

from promptpose_mm.analysis.figures import (draw_pose_comparison,
                                            draw_score_map_grid,
                                            draw_similarity_matrix)


class _SavedFigure:
    """A figure as it was saved, mapping its display pixels to the PNG's.

    Args:
        figure (Figure): the figure, after ``savefig``.
        dpi (float): the dpi it was saved at.
        box: its part written to the PNG, in inches (``Bbox``).
    """

    def __init__(self, figure, dpi, box):
        self.figure = figure
        self.dpi = dpi
        self.box = box

    def pixels(self, transform, points):
        """``(N, 2)`` points through ``transform`` (to display pixels at the
        figure's dpi) as ``(N, 2)`` PNG ``(column, row)`` coordinates; the
        pixel ``(r, c)`` covers ``[c, c + 1) x [r, r + 1)``."""
        display = transform.transform(np.reshape(points, (-1, 2)))
        display = display * self.dpi / self.figure.dpi
        return np.stack([
            display[:, 0] - self.box.x0 * self.dpi,
            self.box.y1 * self.dpi - display[:, 1]
        ],
                        axis=1)

    def read(self, path):
        """The PNG as RGB uint8 ``(H, W, 3)``, checked to be the box."""
        png = np.asarray(Image.open(path).convert('RGB'))
        height, width = png.shape[:2]
        assert abs(width - self.box.width * self.dpi) < 1
        assert abs(height - self.box.height * self.dpi) < 1
        return png


@pytest.fixture
def saved_figures(monkeypatch):
    """Record every figure saved during the test, as ``_SavedFigure``."""
    saved = []
    savefig = Figure.savefig

    def record(figure, fname, *args, **kwargs):
        savefig(figure, fname, *args, **kwargs)
        dpi = kwargs.get('dpi') or matplotlib.rcParams['savefig.dpi']
        dpi = figure.dpi if dpi == 'figure' else dpi
        if kwargs.get('bbox_inches') == 'tight':
            # what savefig crops to: the tight box, padded
            pad = kwargs.get('pad_inches',
                             matplotlib.rcParams['savefig.pad_inches'])
            box = figure.get_tightbbox(
                figure.canvas.get_renderer()).padded(pad)
        else:
            box = figure.bbox_inches
        saved.append(_SavedFigure(figure, dpi, box))

    monkeypatch.setattr(Figure, 'savefig', record)
    return saved


def _at(png, points):
    """The RGB (as int) of the pixels holding ``(N, 2)`` (column, row)."""
    cols, rows = np.floor(np.asarray(points)).astype(int).T
    return png[rows, cols].astype(int)


def _rgb255(color):
    """A matplotlib 0-1 colour as 0-255 ints."""
    return np.round(np.asarray(color)[:3] * 255).astype(int)


def _region(png, corners):
    """The PNG's pixels inside two (column, row) corners, and the (column,
    row) centres of those pixels, both cut 3 pixels in from the edges."""
    (c0, r0), (c1, r1) = np.sort(np.asarray(corners), axis=0)
    c0, r0 = math.ceil(c0) + 3, math.ceil(r0) + 3
    c1, r1 = math.floor(c1) - 3, math.floor(r1) - 3
    rows, cols = np.mgrid[r0:r1, c0:c1]
    centres = np.stack([cols + 0.5, rows + 0.5], axis=-1)
    return png[r0:r1, c0:c1].astype(int), centres


def _colormap_values(name, rgb):
    """Invert a colormap: for ``(..., 3)`` colours in 0-1, the value in
    [0, 1] of the nearest of its 256 colours, and the distance to it."""
    lut = matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3]
    flat = np.asarray(rgb, np.float64).reshape(-1, 3)
    dist2 = ((flat**2).sum(1)[:, None] - 2 * flat @ lut.T +
             (lut**2).sum(1)[None])
    index = dist2.argmin(1)
    dist = np.sqrt(np.maximum(dist2[np.arange(len(flat)), index], 0))
    shape = np.shape(rgb)[:-1]
    return (index / 255).reshape(shape), dist.reshape(shape)


def _segment_distance(centres, p, q):
    """Distance of ``(..., 2)`` points to the segment from p to q."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    t = np.clip(((centres - p) @ (q - p)) / ((q - p) @ (q - p)), 0, 1)
    return np.linalg.norm(centres - (p + t[..., None] * (q - p)), axis=-1)


def _inside(centres, corners, grow):
    """Which ``(..., 2)`` points lie in the box of two corners grown by
    ``grow`` on each side."""
    low = np.min(corners, axis=0) - grow
    high = np.max(corners, axis=0) + grow
    return ((centres >= low) & (centres <= high)).all(axis=-1)


def test_similarity_matrix_cells_carry_their_values(tmp_path, saved_figures):
    # asymmetric: the maximum 0.9 at row 0 (feature 'a'), column 2 (prompt
    # 'c'), its mirror cell 0.2; the minimum -0.2 at row 3, column 1; row 1
    # NaN (a keypoint without ground truth)
    nan = np.nan
    similarity = np.array([[0.1, 0.3, 0.9, 0.0], [nan, nan, nan, nan],
                           [0.2, 0.5, 0.4, 0.6], [0.7, -0.2, 0.1, 0.3]])
    names = ['a', 'b', 'c', 'd']
    path = draw_similarity_matrix(similarity, names,
                                  str(tmp_path / 'similarity.png'))
    [saved] = saved_figures
    png = saved.read(path)
    ax, colorbar_ax = saved.figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert ax.get_xlabel() == 'keypoint prompt'

    viridis = matplotlib.colormaps['viridis']
    norm = Normalize(-0.2, 0.9)  # the finite values' range
    white = np.array([255, 255, 255])  # NaN: blank, the axes' background
    # cell (i, j) is the unit square centred on (x, y) = (j, i); sample its
    # centre and four points near its corners
    offsets = [(0, 0), (-0.35, -0.35), (-0.35, 0.35), (0.35, -0.35),
               (0.35, 0.35)]
    for i in range(4):
        for j in range(4):
            value = similarity[i, j]
            expected = (
                white if np.isnan(value) else _rgb255(viridis(norm(value))))
            points = saved.pixels(ax.transData, np.add((j, i), offsets))
            found = _at(png, points)
            assert np.abs(found - expected).max() <= 2, (i, j, found)
    # the extremes are the colour map's ends: yellow and dark purple
    top, bottom = saved.pixels(ax.transData, [(2, 0), (1, 3)])
    np.testing.assert_allclose(
        _at(png, [top])[0], _rgb255(viridis(1.0)), atol=2)
    np.testing.assert_allclose(
        _at(png, [bottom])[0], _rgb255(viridis(0.0)), atol=2)
    # the colour bar runs from the minimum (bottom) to the maximum (top)
    assert colorbar_ax.get_ylim() == pytest.approx((-0.2, 0.9))
    for value in (0.88, 0.35, -0.18):
        [point] = saved.pixels(colorbar_ax.transData, [(0.5, value)])
        found = _at(png, [point])[0]
        expected = _rgb255(viridis(norm(value)))
        assert np.abs(found - expected).max() <= 3, (value, found)


def test_score_map_grid_peaks_in_keypoint_order(tmp_path, saved_figures):
    # 8 x 8 maps upsampled to the 64 x 64 crop, 0 but for one cell each:
    # bilinear (align_corners=False) puts the peak of cell (r, c) at crop
    # pixels 8 c + 3 and 8 c + 4, i.e. at x = 8 c + 3.5, y = 8 r + 3.5, with
    # height (15 / 16) ** 2 of the cell's value
    grey = 128
    crop = np.full((64, 64, 3), grey, np.uint8)
    peaks = [(1, 5), (6, 2), (2, 4), (5, 1)]  # (row, column), none r == c
    heights = [1.0, 1.0, 1.0, 0.5]
    maps = np.zeros((4, 8, 8), np.float32)
    for k, ((row, col), height) in enumerate(zip(peaks, heights)):
        maps[k, row, col] = height
    names = ['nose', 'left eye', 'right eye', 'tail']
    path = draw_score_map_grid(
        crop, maps, names, str(tmp_path / 'grid.png'), ncols=3)
    [saved] = saved_figures
    png = saved.read(path)
    figure = saved.figure
    # the shared colour scale runs from 0 to the highest upsampled score
    assert figure.get_suptitle() == 'score maps (cosine, 0.00 to 0.88)'

    # 2 rows of 3 panels, in keypoint order row by row; the last two empty
    axes = figure.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes] == names + ['', '']
    boxes = [ax.get_position(original=True) for ax in axes]
    for k, box in enumerate(boxes):
        row, col = divmod(k, 3)
        assert box.x0 == pytest.approx(boxes[col].x0)
        assert box.y0 == pytest.approx(boxes[3 * row].y0)
    assert boxes[0].x0 < boxes[1].x0 < boxes[2].x0
    assert boxes[0].y0 > boxes[3].y0

    for k, ax in enumerate(axes[:4]):
        corners = saved.pixels(ax.transData, [(-0.5, -0.5), (63.5, 63.5)])
        pixels, centres = _region(png, corners)
        scale = abs(corners[1, 0] - corners[0, 0]) / 64  # PNG px per crop px
        # the overlay is 0.5 jet over 0.5 crop: undo the blend, read jet
        jet = (pixels / 255 - 0.5 * grey / 255) / 0.5
        values, misfit = _colormap_values('jet', jet)
        assert np.median(misfit) < 0.03, k
        hottest = values >= values.max() - 0.02
        found = centres[hottest].mean(axis=0)
        row, col = peaks[k]
        [expected] = saved.pixels(ax.transData,
                                  [(8 * col + 3.5, 8 * row + 3.5)])
        assert np.linalg.norm(found - expected) <= 1.5 * scale, (k, found,
                                                                 expected)
        # the peak's colour is its height on the shared scale (the half
        # peak sits mid-scale), and a cell away from it is the scale's 0
        assert values.max() == pytest.approx(heights[k], abs=0.06), k
        far = np.linalg.norm(centres - expected, axis=-1) > 24 * scale
        assert np.abs(values[far]).max() <= 0.02, k
    for ax in axes[4:]:
        # no crop, no map: the figure's white
        corners = saved.pixels(ax.transAxes, [(0, 0), (1, 1)])
        pixels, _ = _region(png, corners)
        assert (pixels == 255).all()


# keypoint and link colours, RGB 0-255, none grey or magenta
KEYPOINT_COLORS = np.array([(230, 25, 25), (25, 200, 25), (40, 40, 230),
                            (240, 160, 0), (0, 200, 200)])
SKELETON = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]
LINK_COLORS = np.array([(255, 255, 0), (255, 128, 192), (128, 64, 0),
                        (0, 120, 255), (160, 0, 160)])
MAGENTA = (255, 0, 255)


def _pose_comparison_case():
    """Two images (rows) by two sources (columns), drawn by hand.

    Returns:
        dict: ``draw_pose_comparison``'s inputs, and per panel
        ``expected[row][col]`` with the view ``region``, ``grey``, magenta
        ``patch`` ``(x1, y1, x2, y2)`` in pixel indices, the ``shown``
        keypoints ``(x, y, k)``, the ``hidden`` ones ``(x, y)`` and the
        drawn ``links`` ``(p, q, link index)``.
    """
    images, patches, greys = [], [(70, 40, 77, 47), (60, 30, 67, 37)], []
    for (height, width), grey, (x1, y1, x2, y2) in zip([(60, 90), (100, 100)],
                                                       [96, 160], patches):
        image = np.full((height, width, 3), grey, np.uint8)
        image[y1:y2 + 1, x1:x2 + 1] = MAGENTA
        images.append(image)
        greys.append(grey)
    nan = np.nan
    # poses[col][row]: (N, 5, 3) (x, y, score); score_thr is 0.3
    poses = [
        [
            # ground truth: keypoints 2 and 4 unlabelled (0)
            np.array([[[15, 12, 1], [45, 12, 1], [30, 40, 0], [60, 30, 1],
                       [80, 15, 0]]], np.float32),
            # two instances; the second only keypoints 0 and 4
            np.array([[
                [25, 35, 1], [45, 35, 1], [45, 55, 1], [0, 0, 0], [0, 0, 0]
            ], [[50, 70, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0], [70, 60, 1]]],
                     np.float32),
        ],
        [
            # a model: keypoint 2 under score_thr, keypoint 3 NaN
            np.array([[[20, 20, 0.9], [20, 50, 0.8], [50, 20, 0.2],
                       [60, 45, nan], [82, 10, 0.5]]], np.float32),
            np.zeros((0, 5, 3), np.float32),  # nothing found
        ],
    ]
    boxes = [None, np.array([[20, 30, 70, 80]], np.float32)]
    # row 0: the whole image; row 1: the box grown by 10 % of its size
    regions = [(0, 0, 90, 60), (15, 25, 75, 85)]
    expected = [[None, None], [None, None]]
    for col in range(2):
        for row in range(2):
            shown, hidden, links = [], [], []
            for instance in poses[col][row]:
                visible = [bool(score >= 0.3)
                           for score in instance[:, 2]]  # NaN compares False
                for k, (x, y, _) in enumerate(instance):
                    (shown if visible[k] else hidden).append((x, y, k))
                for index, (i, j) in enumerate(SKELETON):
                    if visible[i] and visible[j]:
                        links.append((instance[i, :2], instance[j, :2], index))
            expected[row][col] = dict(
                region=regions[row],
                grey=greys[row],
                patch=patches[row],
                shown=shown,
                hidden=[(x, y) for x, y, _ in hidden],
                links=links)
    # the hand-made case draws what it means to
    assert [k for _, _, k in expected[0][0]['shown']] == [0, 1, 3]
    assert [k for _, _, k in expected[0][1]['shown']] == [0, 1, 4]
    assert [index for _, _, index in expected[0][0]['links']] == [0]
    assert [index for _, _, index in expected[0][1]['links']] == [0, 4]
    assert [index for _, _, index in expected[1][0]['links']] == [0, 1, 4]
    return dict(
        images=images,
        poses=poses,
        boxes=boxes,
        titles=['ground truth', 'model'],
        expected=expected)


def test_pose_comparison_draws_keypoints_where_they_are(
        tmp_path, saved_figures):
    case = _pose_comparison_case()
    path = draw_pose_comparison(
        case['images'],
        case['poses'],
        case['titles'],
        SKELETON,
        str(tmp_path / 'poses.png'),
        keypoint_colors=KEYPOINT_COLORS,
        link_colors=LINK_COLORS,
        boxes=case['boxes'])
    [saved] = saved_figures
    png = saved.read(path)
    # 2 columns of 300 px; rows of 60 / 90 and 60 / 60 panel widths, plus
    # the 40 px title strip
    assert png.shape[:2] == (200 + 300 + 40, 600)
    axes = saved.figure.axes
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes[:2]] == case['titles']
    for index, ax in enumerate(axes):
        row, col = divmod(index, 2)
        panel = case['expected'][row][col]
        x1, y1, x2, y2 = panel['region']
        assert ax.get_xlim() == pytest.approx((x1, x2))
        assert ax.get_ylim() == pytest.approx((y2, y1))  # y down
        corners = saved.pixels(ax.transData, [(x1, y1), (x2, y2)])
        # columns left to right, rows top to bottom
        if col == 1:
            left = saved.pixels(axes[index - 1].transData, [(x1, y1)])
            assert corners[0, 0] > left[0, 0] + 250
        if row == 1:
            above = saved.pixels(axes[index - 2].transData, [(0, 60)])
            assert corners[0, 1] > above[0, 1]

        # the image is drawn the right way round: its magenta patch is
        # where transData puts it
        px1, py1, px2, py2 = panel['patch']
        centre = saved.pixels(ax.transData,
                              [((px1 + px2) / 2, (py1 + py2) / 2)])
        assert (_at(png, centre)[0] == MAGENTA).all(), (row, col)
        # each shown keypoint is a dot of its colour at its place
        for x, y, k in panel['shown']:
            found = _at(png, saved.pixels(ax.transData, [(x, y)]))[0]
            assert np.abs(found - KEYPOINT_COLORS[k]).max() <= 3, (row, col, k,
                                                                   found)
        # each drawn link passes through its midpoint in its colour (the
        # 1.5 pt line is 2 px wide: some pixel within 1 px is covered)
        for p, q, index in panel['links']:
            [mid] = saved.pixels(ax.transData, [(p + q) / 2])
            near = mid + np.stack(np.mgrid[-1:2, -1:2], -1).reshape(-1, 2)
            found = _at(png, near)
            assert np.abs(found -
                          LINK_COLORS[index]).max(1).min() <= 3, (row, col,
                                                                  index)
        # everything else, hidden keypoints included, is the image: grey
        # away from the dots, the links and the patch
        pixels, centres = _region(png, corners)
        free = ~_inside(
            centres,
            saved.pixels(ax.transData, [(px1 - 0.5, py1 - 0.5),
                                        (px2 + 0.5, py2 + 0.5)]),
            grow=4)
        for x, y, _ in panel['shown']:
            [dot] = saved.pixels(ax.transData, [(x, y)])
            free &= np.linalg.norm(centres - dot, axis=-1) > 7
        for p, q, _ in panel['links']:
            ends = saved.pixels(ax.transData, [p, q])
            free &= _segment_distance(centres, *ends) > 4
        assert free.mean() > 0.8
        assert (np.abs(pixels[free] - panel['grey']) <= 2).all(), (row, col)
        for x, y in panel['hidden']:
            if x1 < x < x2 and y1 < y < y2:
                found = _at(png, saved.pixels(ax.transData, [(x, y)]))[0]
                assert (np.abs(found - panel['grey'])
                        <= 2).all(), (row, col, x, y)
