"""A small reader of single-animal DeepLabCut projects, to COCO keypoints.

Scope: the classic single-animal layout (``config.yaml`` and
``labeled-data/<video>/CollectedData_<scorer>.csv`` with the three header
rows ``scorer / bodyparts / coords``, one row per frame, empty cells for
unlabelled points). Multi-animal projects (an ``individuals`` header row)
are refused. A full importer of other label formats is out of scope here.

- :func:`read_deeplabcut_project` reads the bodyparts, the skeleton and the
  labelled frames (with their image sizes);
- :func:`deeplabcut_to_coco` turns frames into a COCO keypoint file: one
  instance per frame, labelled points with visibility 2, unlabelled ones
  ``0, 0, 0``, and a square box around the labelled points, padded on
  every side (DeepLabCut has no boxes);
- :func:`deeplabcut_metainfo` / :func:`write_metainfo` give an MMPose
  dataset metainfo (names from the bodyparts, skeleton from
  ``config.yaml``, flip pairs only for left/right names, one OKS sigma);
- :func:`convert_deeplabcut_project` does all of it with a train/val split
  (every ``val_every``-th frame in file order to validation).
"""
import glob
import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from promptpose_mm.utils.keypoint_names import humanize_keypoint_name


class DeepLabCutFrame(NamedTuple):
    """One labelled frame.

    Attributes:
        file_name (str): the image path relative to the project folder
            (as the label table writes it, with ``/`` separators).
        keypoints (np.ndarray): ``(K, 2)`` float64 pixel coordinates in the
            image's own frame, NaN where the point is unlabelled.
        width (int): image width in pixels.
        height (int): image height in pixels.
    """
    file_name: str
    keypoints: np.ndarray
    width: int
    height: int


class DeepLabCutProject(NamedTuple):
    """A DeepLabCut project's labels.

    Attributes:
        root (str): the project folder.
        task (str): ``Task`` from ``config.yaml``.
        bodyparts (list[str]): the keypoint names, in ``config.yaml`` order.
        skeleton (list[tuple[str, str]]): links by bodypart name.
        frames (list[DeepLabCutFrame]): the labelled frames, in the order of
            the label files (sorted by path) and of their rows.
    """
    root: str
    task: str
    bodyparts: List[str]
    skeleton: List[Tuple[str, str]]
    frames: List[DeepLabCutFrame]


def _read_label_table(path: str, bodyparts: Sequence[str]
                      ) -> List[Tuple[str, np.ndarray]]:
    """Rows of a ``CollectedData_*.csv``: (image path, ``(K, 2)`` points)."""
    try:
        import pandas as pd
    except ImportError as error:  # pragma: no cover - in the stack
        raise ImportError('reading DeepLabCut labels needs pandas '
                          '(pip install pandas)') from error
    with open(path) as file:
        first_cells = [file.readline().split(',')[0] for _ in range(4)]
    if first_cells[1] == 'individuals':
        raise ValueError(f'{path}: a multi-animal DeepLabCut table (with an '
                         '"individuals" row) is not supported')
    if first_cells[:3] != ['scorer', 'bodyparts', 'coords']:
        raise ValueError(
            f'{path}: expected the three header rows scorer, bodyparts, '
            f'coords of a single-animal DeepLabCut table, got {first_cells}')
    table = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    # Newer tables split the image path over three index columns; their
    # 2nd and 3rd columns have no header ("Unnamed: ...").
    extra = [col for col in table.columns if str(col[0]).startswith('Unnamed')]
    if extra:
        parts = [table.index.astype(str)
                 ] + [table[col].astype(str) for col in extra]
        table = table.drop(columns=extra)
        table.index = ['/'.join(p) for p in zip(*parts)]
    table.columns = table.columns.droplevel(0)  # the scorer
    missing = [name for name in bodyparts if (name, 'x') not in table]
    if missing:
        raise ValueError(f'{path}: no columns for bodyparts {missing} of '
                         'config.yaml')
    rows = []
    for file_name, row in table.iterrows():
        points = np.array([[row[(name, 'x')], row[(name, 'y')]]
                           for name in bodyparts],
                          dtype=np.float64)
        # a point is labelled only when both coordinates are
        points[~np.isfinite(points).all(axis=1)] = np.nan
        rows.append((str(file_name).replace(os.sep, '/'), points))
    return rows


def _image_size(path: str) -> Tuple[int, int]:
    from PIL import Image
    with Image.open(path) as image:
        return image.size


def read_deeplabcut_project(root: str) -> DeepLabCutProject:
    """Read a single-animal DeepLabCut project.

    Args:
        root (str): the folder holding ``config.yaml`` and
            ``labeled-data/``.

    Returns:
        DeepLabCutProject: names, skeleton and labelled frames.
    """
    import yaml
    config_path = osp.join(root, 'config.yaml')
    if not osp.isfile(config_path):
        raise FileNotFoundError(f'{root}: no config.yaml; give the folder of '
                                'a DeepLabCut project')
    with open(config_path) as file:
        config = yaml.safe_load(file)
    if config.get('multianimalproject'):
        raise ValueError(f'{root}: multi-animal projects are not supported')
    bodyparts = [str(name) for name in config['bodyparts']]
    skeleton = [(str(a), str(b)) for a, b in (config.get('skeleton') or [])]
    unknown = {name for link in skeleton for name in link} - set(bodyparts)
    if unknown:
        raise ValueError(f'{config_path}: skeleton names {sorted(unknown)} '
                         'are not bodyparts')
    tables = sorted(
        glob.glob(osp.join(root, 'labeled-data', '*', 'CollectedData_*.csv')))
    if not tables:
        raise FileNotFoundError(
            f'{root}: no labeled-data/*/CollectedData_*.csv')
    frames = []
    for table in tables:
        for file_name, points in _read_label_table(table, bodyparts):
            width, height = _image_size(osp.join(root, file_name))
            frames.append(
                DeepLabCutFrame(file_name, points, int(width), int(height)))
    return DeepLabCutProject(root, str(config.get('Task', 'deeplabcut')),
                             bodyparts, skeleton, frames)


def square_box(points: np.ndarray, padding: float = 0.25) -> List[float]:
    """A square box ``[x, y, w, h]`` around the labelled points.

    The square's side is the larger extent of the points (at least 1
    pixel), centred on them, and grows by ``padding`` times the side on
    every side.
    """
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        raise ValueError('a box needs at least one labelled point')
    low, high = points.min(axis=0), points.max(axis=0)
    center = (low + high) / 2
    side = max(float((high - low).max()), 1.0) * (1 + 2 * padding)
    return [
        float(center[0] - side / 2),
        float(center[1] - side / 2), side, side
    ]


def deeplabcut_to_coco(project: DeepLabCutProject,
                       frames: Optional[Sequence[DeepLabCutFrame]] = None,
                       padding: float = 0.25) -> dict:
    """COCO keypoint annotations of DeepLabCut frames.

    Image ids count from 1 in the order of ``frames``; each frame holding a
    labelled point gets one instance (category 1, the project's task)
    with its square box (:func:`square_box`) and box area.

    Args:
        project (DeepLabCutProject): the project (names and skeleton).
        frames (Sequence[DeepLabCutFrame], optional): the frames to export;
            all of the project's by default.
        padding (float): box padding per side, as a fraction of the side.

    Returns:
        dict: ``images``, ``annotations`` and ``categories``.
    """
    frames = project.frames if frames is None else frames
    index = {name: i for i, name in enumerate(project.bodyparts)}
    images, annotations = [], []
    for image_id, frame in enumerate(frames, start=1):
        images.append(
            dict(
                id=image_id,
                file_name=frame.file_name,
                width=frame.width,
                height=frame.height))
        labelled = np.isfinite(frame.keypoints).all(axis=1)
        if not labelled.any():
            continue
        keypoints = []
        for (x, y), seen in zip(frame.keypoints, labelled):
            keypoints += [float(x), float(y), 2] if seen else [0.0, 0.0, 0]
        box = square_box(frame.keypoints, padding)
        annotations.append(
            dict(
                id=len(annotations) + 1,
                image_id=image_id,
                category_id=1,
                keypoints=keypoints,
                num_keypoints=int(labelled.sum()),
                bbox=box,
                area=box[2] * box[3],
                iscrowd=0))
    categories = [
        dict(
            id=1,
            name=project.task,
            supercategory='animal',
            keypoints=list(project.bodyparts),
            skeleton=[[index[a] + 1, index[b] + 1]
                      for a, b in project.skeleton])
    ]
    return dict(images=images, annotations=annotations, categories=categories)


def _flip_partner(name: str, names: Sequence[str]) -> str:
    """The bodypart that mirrors ``name`` (left <-> right), or ''."""
    words = humanize_keypoint_name(name).split()
    swap = {'left': 'right', 'right': 'left'}
    if not any(word in swap for word in words):
        return ''
    mirrored = [swap.get(word, word) for word in words]
    for other in names:
        if humanize_keypoint_name(other).split() == mirrored:
            return other
    return ''


def deeplabcut_metainfo(project: DeepLabCutProject,
                        sigma: float = 0.025) -> dict:
    """MMPose ``dataset_info`` of the project.

    Keypoint names are the bodyparts, links the skeleton; a bodypart is
    swapped on flips only with its left/right mirror name (``LeftEar`` /
    ``RightEar``, ``L_paw`` / ``R_paw``), none otherwise. Every keypoint
    has joint weight 1 and OKS sigma ``sigma`` (DeepLabCut defines none).
    """
    names = project.bodyparts
    palette = [[255, 128, 0], [0, 255, 0], [51, 153, 255], [255, 51, 255],
               [255, 255, 0], [0, 255, 255], [255, 0, 0], [128, 0, 255]]
    keypoint_info = {
        i:
        dict(
            name=name,
            id=i,
            color=palette[i % len(palette)],
            type='',
            swap=_flip_partner(name, names))
        for i, name in enumerate(names)
    }
    skeleton_info = {
        i: dict(link=tuple(link), id=i, color=[0, 0, 255])
        for i, link in enumerate(project.skeleton)
    }
    return dict(
        dataset_name=f'deeplabcut_{project.task}',
        paper_info=dict(
            author='Mathis, Alexander and others',
            title='DeepLabCut: markerless pose estimation of user-defined '
            'body parts with deep learning',
            container='Nature Neuroscience',
            year='2018',
            homepage='https://github.com/DeepLabCut/DeepLabCut'),
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[1.0] * len(names),
        sigmas=[float(sigma)] * len(names))


def write_metainfo(path: str, dataset_info: dict) -> str:
    """Write ``dataset_info = ...`` as an MMPose metainfo file."""
    with open(path, 'w') as file:
        file.write('# MMPose dataset metainfo written by promptpose_mm.'
                   'annotations.deeplabcut\n')
        file.write(f'dataset_info = {dataset_info!r}\n')
    return path


def split_every(frames: Sequence[DeepLabCutFrame],
                val_every: int = 5
                ) -> Tuple[List[DeepLabCutFrame], List[DeepLabCutFrame]]:
    """Every ``val_every``-th frame in file order (the 5th, 10th, ...)
    to validation, the others to training."""
    if val_every < 2:
        raise ValueError(f'val_every must be >= 2, got {val_every}')
    train = [f for i, f in enumerate(frames) if (i + 1) % val_every]
    val = [f for i, f in enumerate(frames) if not (i + 1) % val_every]
    return train, val


def convert_deeplabcut_project(root: str,
                               out_dir: str,
                               val_every: int = 5,
                               padding: float = 0.25,
                               sigma: float = 0.025
                               ) -> Dict[str, Union[str, int]]:
    """Convert a DeepLabCut project into COCO train/val files + metainfo.

    Writes ``train.json``, ``val.json`` and ``metainfo.py`` into
    ``out_dir``. Image paths stay relative to the project folder, so
    configs use ``data_prefix=dict(img=root)``.

    Returns:
        dict: the paths ``train``, ``val``, ``metainfo``, the absolute
        project folder ``img_root``, the keypoint count ``num_keypoints``
        and the frame counts ``num_train``, ``num_val``.
    """
    project = read_deeplabcut_project(root)
    train, val = split_every(project.frames, val_every)
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(
        train=osp.join(out_dir, 'train.json'),
        val=osp.join(out_dir, 'val.json'),
        metainfo=osp.join(out_dir, 'metainfo.py'),
        img_root=osp.abspath(root))
    for split, frames in (('train', train), ('val', val)):
        with open(paths[split], 'w') as file:
            json.dump(deeplabcut_to_coco(project, frames, padding), file)
    write_metainfo(paths['metainfo'], deeplabcut_metainfo(project, sigma))
    paths.update(
        num_keypoints=len(project.bodyparts),
        num_train=len(train),
        num_val=len(val))
    return paths
