"""Small DeepLabCut projects and SLEAP files with drawn animals.

Labs' label files cannot be downloaded in tests, so the importer is fed
files written here in the tools' own formats: a DeepLabCut project
(``config.yaml``, ``labeled-data/<video>/CollectedData_<scorer>.csv`` with
the three (or, multi-animal, four) header rows, and the ``.h5`` twin
written by pandas) and SLEAP ``.slp`` / ``.pkg.slp`` files written by
sleap-io. Each image shows a grey "animal" (an ellipse with a head) on a
dark floor; its keypoints lie on the drawing, so a model can learn them.
"""
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from promptpose_mm.io.video import write_lossless_video

MOUSE_PARTS = ['snout', 'left_ear', 'right_ear', 'tailbase']
MOUSE_SKELETON = (('snout', 'left_ear'), ('snout', 'right_ear'), ('left_ear',
                                                                  'tailbase'))


class DrawnFrame(NamedTuple):
    """A written image and the points drawn on it.

    Attributes:
        file_name (str): the path relative to the project folder.
        video (str): the video (labelled-data folder) it belongs to.
        points (np.ndarray): ``(N, K, 2)`` exact coordinates, NaN where the
            label table leaves the point empty.
    """
    file_name: str
    video: str
    points: np.ndarray


def animal_points(rng: np.random.Generator, width: int,
                  height: int) -> np.ndarray:
    """``(4, 2)`` snout, ears and tail base of a mouse placed at random."""
    center = rng.uniform([0.35 * width, 0.35 * height],
                         [0.65 * width, 0.65 * height])
    angle = rng.uniform(0, 2 * np.pi)
    length = 0.3 * min(width, height)
    axis = np.array([np.cos(angle), np.sin(angle)])
    side = np.array([-axis[1], axis[0]])
    snout = center + axis * length / 2
    tail = center - axis * length / 2
    ears = [
        center + axis * length / 4 + s * side * length / 5 for s in (1, -1)
    ]
    # round to 1/8 pixel: exact in binary, so every format round-trips
    return np.round(np.stack([snout, ears[0], ears[1], tail]) * 8) / 8


def draw_animals(width: int, height: int,
                 animals: Sequence[np.ndarray]) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 image with each animal drawn at its points."""
    from PIL import Image, ImageDraw
    image = Image.new('RGB', (width, height), (30, 30, 40))
    draw = ImageDraw.Draw(image)
    for points in animals:
        snout, left, right, tail = points
        body = np.linspace(snout, tail, 6)
        radius = 0.12 * np.linalg.norm(snout - tail) + 1
        for x, y in body:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius],
                         fill=(170, 170, 160))
        for (x, y), color in ((left, (230, 120, 120)), (right, (120, 120,
                                                                230))):
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
        draw.ellipse([snout[0] - 2, snout[1] - 2, snout[0] + 2, snout[1] + 2],
                     fill=(250, 250, 250))
    return np.asarray(image)


def _save_png(path: str, image: np.ndarray) -> None:
    from PIL import Image
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(image).save(path)


def _write_yaml(path: str, data: dict) -> None:
    import yaml
    with open(path, 'w') as file:
        yaml.safe_dump(data, file, sort_keys=False)


def write_deeplabcut_project(root: str,
                             videos: Dict[str, int],
                             size=(96, 80),
                             individuals: Optional[Sequence[str]] = None,
                             unique: Sequence[str] = (),
                             table_format: str = 'csv',
                             unlabelled: float = 0.15,
                             seed: int = 0,
                             task: str = 'mouse',
                             scorer: str = 'lab') -> List[DrawnFrame]:
    """Write a DeepLabCut project with drawn animals.

    Args:
        root (str): the project folder (created).
        videos (dict): video name -> number of labelled frames.
        size (tuple): image width and height.
        individuals (Sequence[str], optional): a multi-animal project with
            these animals (four header rows); None: single-animal.
        unique (Sequence[str]): multi-animal ``uniquebodyparts``, labelled
            at fixed points under DeepLabCut's ``single`` individual.
        table_format (str): ``'csv'``, ``'h5'`` or ``'both'``.
        unlabelled (float): the chance that a point is left empty.
        seed (int): the random seed.
        task (str): ``Task`` of ``config.yaml``.
        scorer (str): the scorer (the table's file name and first row).

    Returns:
        list[DrawnFrame]: what each row holds, in file order.
    """
    import pandas as pd
    rng = np.random.default_rng(seed)
    width, height = size
    animals = list(individuals) if individuals else ['']
    config = dict(
        Task=task,
        scorer=scorer,
        date='Jan1',
        multianimalproject=bool(individuals),
        skeleton=[list(link) for link in MOUSE_SKELETON])
    if individuals:
        config.update(
            bodyparts='MULTI!',
            individuals=list(individuals),
            multianimalbodyparts=MOUSE_PARTS,
            uniquebodyparts=list(unique))
    else:
        config['bodyparts'] = MOUSE_PARTS
    os.makedirs(root, exist_ok=True)
    _write_yaml(osp.join(root, 'config.yaml'), config)
    drawn: List[DrawnFrame] = []
    for video, count in videos.items():
        rows, index = [], []
        for i in range(count):
            points = np.stack(
                [animal_points(rng, width, height) for _ in animals])
            file_name = f'labeled-data/{video}/img{i:03d}.png'
            _save_png(
                osp.join(root, file_name), draw_animals(width, height, points))
            labelled = points.copy()
            labelled[rng.random(labelled.shape[:2]) < unlabelled] = np.nan
            drawn.append(DrawnFrame(file_name, video, labelled))
            cells = list(labelled.reshape(-1))
            cells += [5.0 + 2 * j for j in range(2 * len(unique))]
            rows.append(cells)
            index.append(('labeled-data', video, f'img{i:03d}.png'))
        columns = [(scorer, animal, part, coord) for animal in animals
                   for part in MOUSE_PARTS for coord in ('x', 'y')]
        columns += [(scorer, 'single', part, coord) for part in unique
                    for coord in ('x', 'y')]
        names = ['scorer', 'individuals', 'bodyparts', 'coords']
        if not individuals:
            columns = [(c[0], c[2], c[3]) for c in columns]
            names = ['scorer', 'bodyparts', 'coords']
        table = pd.DataFrame(
            rows,
            index=pd.MultiIndex.from_tuples(index),
            columns=pd.MultiIndex.from_tuples(columns, names=names))
        base = osp.join(root, 'labeled-data', video, f'CollectedData_{scorer}')
        if table_format in ('csv', 'both'):
            table.to_csv(base + '.csv')
        if table_format in ('h5', 'both'):
            table.to_hdf(base + '.h5', key='df_with_missing', mode='w')
    return drawn


def write_sleap_file(path: str,
                     frames: int = 6,
                     size=(96, 80),
                     animals: int = 1,
                     embed: bool = False,
                     predicted_frames: int = 0,
                     seed: int = 0) -> List[DrawnFrame]:
    """Write a SLEAP labels file with sleap-io, over PNG frames.

    The frames are images ``<stem>_frames/frame<i>.png`` next to the file,
    read by SLEAP as one image-sequence video; ``embed=True`` writes a
    ``.pkg.slp`` with the frames inside (``path`` should end with it).
    The skeleton has :data:`MOUSE_PARTS`, the links of
    :data:`MOUSE_SKELETON` and the ears as a symmetry. ``predicted_frames``
    more frames carry predicted instances only.

    Returns:
        list[DrawnFrame]: the user-labelled frames; ``file_name`` is the
        frame index as a string.
    """
    import sleap_io as sio
    rng = np.random.default_rng(seed)
    width, height = size
    folder = osp.join(
        osp.dirname(path),
        osp.basename(path).split('.')[0] + '_frames')
    files = []
    points_per_frame = []
    for i in range(frames + predicted_frames):
        points = np.stack(
            [animal_points(rng, width, height) for _ in range(animals)])
        files.append(osp.join(folder, f'frame{i:03d}.png'))
        _save_png(files[-1], draw_animals(width, height, points))
        points_per_frame.append(points)
    skeleton = sio.Skeleton(
        list(MOUSE_PARTS),  # sleap-io turns the list into Nodes in place
        edges=[tuple(link) for link in MOUSE_SKELETON],
        symmetries=[('left_ear', 'right_ear')])
    video = sio.Video.from_filename(files)
    tracks = [sio.Track(f'mouse{n + 1}') for n in range(animals)]
    labelled_frames, drawn = [], []
    for i, points in enumerate(points_per_frame):
        user = i < frames
        labelled = points.copy()
        if user:
            labelled[rng.random(labelled.shape[:2]) < 0.15] = np.nan
            instances = [
                sio.Instance.from_numpy(p, skeleton=skeleton, track=t)
                for p, t in zip(labelled, tracks)
            ]
            drawn.append(DrawnFrame(str(i), video.filename[i], labelled))
        else:
            instances = [
                sio.PredictedInstance.from_numpy(
                    p,
                    skeleton=skeleton,
                    point_scores=np.ones(len(p)),
                    score=1.0) for p in labelled
            ]
        labelled_frames.append(
            sio.LabeledFrame(video=video, frame_idx=i, instances=instances))
    labels = sio.Labels(
        labeled_frames=labelled_frames,
        videos=[video],
        skeletons=[skeleton],
        tracks=tracks)
    sio.save_slp(labels, path, embed='user' if embed else False, verbose=False)
    return drawn


def write_video(path: str,
                frames: Sequence[np.ndarray],
                fps: float = 10.0) -> None:
    """Write ``(H, W, 3)`` uint8 RGB frames as a lossless video (FFV1 in
    AVI: any frame size, odd ones too, decoded back exactly)."""
    write_lossless_video(path, frames, fps=fps)


def write_animal_video(path: str,
                       frames: int = 12,
                       size=(95, 81),
                       fps: float = 10.0,
                       seed: int = 0) -> np.ndarray:
    """Write a lossless video (:func:`write_video`) of one drawn mouse
    walking across the frame.

    Returns:
        np.ndarray: ``(T, 4, 2)`` the drawn points of every frame.
    """
    width, height = size
    start = animal_points(np.random.default_rng(seed), width, height)
    step = np.array([0.6, 0.3])
    points = np.stack([start + i * step for i in range(frames)])
    write_video(
        path, [draw_animals(width, height, [p]) for p in points], fps=fps)
    return points
