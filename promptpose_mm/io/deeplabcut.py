"""DeepLabCut's files: a project's labels read into a
:class:`~.labels.LabelSet`, and predictions written (and read back) as
DeepLabCut's analysis table.

A project is a folder with ``config.yaml`` and
``labeled-data/<video>/CollectedData_<scorer>.h5`` (the table DeepLabCut
trains from) or its ``.csv`` twin; the ``.h5`` is read when both exist.
Both are read with pandas into the same table: header rows ``scorer /
bodyparts / coords`` (single-animal) or ``scorer / individuals / bodyparts
/ coords`` (multi-animal), one row per image, the image path in one index
column (older projects) or three (``labeled-data``, video, file name),
empty cells for unlabelled points.

- Single-animal: the keypoints are ``config.yaml``'s ``bodyparts``; one
  instance per image.
- Multi-animal: the keypoints are ``multianimalbodyparts``; one instance
  per individual with a labelled point. ``uniquebodyparts`` (points of no
  individual, DeepLabCut's ``single``) have no place among them: they are
  not imported, and every such labelled point is reported as skipped.

The label table must name exactly the keypoints of ``config.yaml``;
otherwise a :class:`~.labels.LabelError` names both lists. Images that are
missing or unreadable are reported as skipped, as are points outside their
image and frames without a labelled point (:func:`~.labels.clean_frames`).

Predictions (:class:`~.poses.VideoPoses`) are written, through pandas, as
DeepLabCut 3's ``analyze_videos`` writes them, so that its tools
(``create_labeled_video``, ``filterpredictions``, ``plot_trajectories``,
``analyzeskeleton``) and movement read them:

- ``<video stem><scorer>.h5`` (key ``df_with_missing``, PyTables
  ``table`` format) and ``.csv`` (pandas' header rows): column levels
  ``scorer / bodyparts / coords`` (``x``, ``y``, ``likelihood``), one row
  per frame, index ``0 .. T-1``;
- several animals, whose identities are kept from frame to frame, named
  as DeepLabCut names its tracked table: ``<video stem><scorer>_el.h5``
  and ``_el.csv``, with ``individuals`` between ``scorer`` and
  ``bodyparts``. The key stays ``df_with_missing``: DeepLabCut's tracker
  writes ``tracks``, but its readers take the file's one key, and movement
  reads ``df_with_missing`` only;
- ``<video stem><scorer>_meta.pickle``: ``{'data': {...}}`` with the
  fields DeepLabCut writes (frame size, frame count, rate, cropping,
  bodyparts, individuals, run times, ...), which ``create_labeled_video``
  reads.
"""
import glob
import os.path as osp
import pickle
from typing import Dict, List, Optional, Tuple

import numpy as np

from .atomic import atomic_write
from .labels import (LabelError, LabelledFrame, LabelSet, Skipped,
                     check_skeleton, clean_frames)
from .poses import VideoPoses


def find_label_tables(root: str) -> List[str]:
    """Each ``labeled-data`` folder's label table: the ``.h5`` where one
    exists, else the ``.csv``; sorted by folder."""
    tables = []
    for folder in sorted(glob.glob(osp.join(root, 'labeled-data', '*'))):
        found = sorted(glob.glob(osp.join(folder, 'CollectedData_*.h5')))
        found = found or sorted(
            glob.glob(osp.join(folder, 'CollectedData_*.csv')))
        if len(found) > 1:
            raise LabelError(
                f'{folder}: several label tables {found}; keep one '
                'CollectedData_<scorer> file per folder (one scorer)')
        tables += found
    if not tables:
        raise FileNotFoundError(
            f'{root}: no labeled-data/*/CollectedData_*.h5 or .csv; label '
            'frames in DeepLabCut first, or give the project folder')
    return tables


def read_label_table(path: str):
    """A DeepLabCut label table as a pandas DataFrame.

    Returns:
        pandas.DataFrame: index the image paths (``/``-joined, as given),
        columns ``(individual, bodypart, coord)`` with ``individual`` ''
        for single-animal tables, float values (NaN where unlabelled).
    """
    import pandas as pd
    if path.endswith('.h5'):
        try:
            table = pd.read_hdf(path)
        except (OSError, ValueError, KeyError, ImportError) as error:
            raise LabelError(f'{path}: not a readable DeepLabCut .h5 table '
                             f'({error}); re-save the labels in DeepLabCut '
                             'or remove it to use the .csv') from None
    else:
        with open(path) as file:
            first_cells = [
                file.readline().split(',')[0].strip() for _ in range(4)
            ]
        levels = (['scorer', 'individuals', 'bodyparts', 'coords']
                  if first_cells[1] == 'individuals' else
                  ['scorer', 'bodyparts', 'coords'])
        if first_cells[:len(levels)] != levels:
            raise LabelError(
                f'{path}: expected the header rows {levels} of a DeepLabCut '
                f'label table, got {first_cells[:len(levels)]}')
        table = pd.read_csv(path, header=list(range(len(levels))), index_col=0)
        # newer tables split the image path over three index columns,
        # whose 2nd and 3rd have no header ("Unnamed: ...")
        extra = [c for c in table.columns if str(c[0]).startswith('Unnamed')]
        if extra:
            parts = [table.index.astype(str)
                     ] + [table[c].astype(str) for c in extra]
            table = table.drop(columns=extra)
            table.index = ['/'.join(p) for p in zip(*parts)]
        table.columns = table.columns.set_names(levels)
    if isinstance(table.index, pd.MultiIndex):
        table.index = ['/'.join(map(str, key)) for key in table.index]
    names = list(table.columns.names)
    if names[-2:] != ['bodyparts', 'coords'] or names[0] != 'scorer':
        raise LabelError(f'{path}: column levels {names} are not those of a '
                         'DeepLabCut label table (scorer, [individuals,] '
                         'bodyparts, coords)')
    if table.columns.get_level_values('scorer').nunique() != 1:
        raise LabelError(f'{path}: more than one scorer; keep one')
    table = table.droplevel('scorer', axis=1)
    if 'individuals' not in table.columns.names:
        table = pd.concat({'': table}, axis=1, names=['individuals'])
    try:
        table = table.apply(pd.to_numeric)
    except (ValueError, TypeError) as error:
        raise LabelError(f'{path}: a coordinate is not a number ({error}); '
                         'fix the cell or relabel the frame') from None
    table.index = [str(name).replace('\\', '/') for name in table.index]
    return table


def _image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height), or None when the file cannot be read."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except (OSError, UnidentifiedImageError, SyntaxError):
        return None


def _read_config(root: str) -> dict:
    import yaml
    path = osp.join(root, 'config.yaml')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{root}: no config.yaml; give the folder of '
                                'a DeepLabCut project')
    with open(path) as file:
        return yaml.safe_load(file) or {}


def read_deeplabcut_project(root: str) -> LabelSet:
    """Read a single- or multi-animal DeepLabCut project.

    Args:
        root (str): the folder holding ``config.yaml`` and
            ``labeled-data/``.

    Returns:
        LabelSet: names from ``config.yaml``, its skeleton, the frames in
        folder and row order (images relative to ``root``), what was
        skipped, ``source='deeplabcut'``.
    """
    root = osp.abspath(root)
    config = _read_config(root)
    config_path = osp.join(root, 'config.yaml')
    multi = bool(config.get('multianimalproject'))
    key = 'multianimalbodyparts' if multi else 'bodyparts'
    bodyparts = [str(name) for name in (config.get(key) or [])]
    if not bodyparts:
        raise LabelError(f'{config_path}: no {key}; list the keypoints there')
    unique = [str(name) for name in (config.get('uniquebodyparts') or [])
              ] if multi else []
    skeleton = check_skeleton(bodyparts, [
        link for link in (config.get('skeleton') or [])
        if not set(map(str, link)) & set(unique)
    ], config_path)
    frames: List[LabelledFrame] = []
    skipped: List[Skipped] = []
    for path in find_label_tables(root):
        table = read_label_table(path)
        video = osp.basename(osp.dirname(path))
        by_individual: Dict[str, List[str]] = {}
        for individual, part, _ in table.columns:
            parts = by_individual.setdefault(individual, [])
            if part not in parts:
                parts.append(part)
        for individual, parts in by_individual.items():
            if multi and individual == 'single':
                expected, what = unique, 'uniquebodyparts'
            else:
                expected, what = bodyparts, key
            if set(parts) != set(expected):
                raise LabelError(
                    f'{path}: the bodyparts {parts} of '
                    f'{individual or "the table"} differ from {what} '
                    f'{expected} in {config_path}; make config.yaml list '
                    'the labelled bodyparts (or relabel the frames)')
        animals = [i for i in by_individual if not (multi and i == 'single')]
        for file_name, row in table.iterrows():
            image = osp.join(root, file_name)
            if not osp.isfile(image):
                # older tables name the image only: it lies by the table
                near = osp.join(osp.dirname(path), osp.basename(file_name))
                if osp.isfile(near):
                    image = near
                    file_name = osp.relpath(near, root).replace('\\', '/')
            size = _image_size(image) if osp.isfile(image) else None
            if size is None:
                skipped.append(
                    Skipped(
                        'missing image' if not osp.isfile(image) else
                        'unreadable image', f'{image} (row of {path})'))
                continue
            instances = np.array([[[row[(i, part, 'x')], row[(i, part, 'y')]]
                                   for part in bodyparts] for i in animals],
                                 dtype=np.float64).reshape(
                                     len(animals), len(bodyparts), 2)
            # a point is labelled only when both coordinates are; one
            # coordinate alone is reported
            finite = np.isfinite(instances)
            for n, k in zip(*np.nonzero(finite.any(-1) & ~finite.all(-1))):
                skipped.append(
                    Skipped(
                        'point with one coordinate (unlabelled)',
                        f'{file_name}: {animals[n] or "the animal"} '
                        f'{bodyparts[k]}'))
            instances[~finite.all(-1)] = np.nan
            if 'single' in by_individual and multi:
                for part in unique:
                    if np.isfinite([
                            row[('single', part, 'x')],
                            row[('single', part, 'y')]
                    ]).all():
                        skipped.append(
                            Skipped(
                                'unique bodypart, no individual (not '
                                'imported)', f'{file_name}: {part}'))
            frames.append(
                LabelledFrame(file_name, int(size[0]), int(size[1]), instances,
                              video, tuple(animals)))
    frames, skipped = clean_frames(frames, bodyparts, root, skipped,
                                   'check the image paths in the tables')
    return LabelSet(
        name=str(config.get('Task') or osp.basename(root)),
        bodyparts=bodyparts,
        skeleton=skeleton,
        frames=frames,
        image_root=root,
        flip_pairs=None,
        skipped=skipped,
        source='deeplabcut')


def deeplabcut_table(poses: VideoPoses):
    """The DeepLabCut analysis table (pandas DataFrame) of ``poses``.

    One row per frame (index 0 .. T-1); columns ``(scorer, bodypart,
    coord)`` for one animal slot, ``(scorer, individual, bodypart, coord)``
    for several, ``coord`` in ``x, y, likelihood``; empty slots are NaN.
    """
    import pandas as pd
    frames, animals, parts = poses.scores.shape
    values = np.concatenate([poses.keypoints, poses.scores[..., None]],
                            axis=-1).reshape(frames, animals * parts * 3)
    if animals == 1:
        columns = pd.MultiIndex.from_product(
            [[poses.scorer], poses.bodyparts, ['x', 'y', 'likelihood']],
            names=['scorer', 'bodyparts', 'coords'])
    else:
        columns = pd.MultiIndex.from_product(
            [[poses.scorer], poses.individuals, poses.bodyparts,
             ['x', 'y', 'likelihood']],
            names=['scorer', 'individuals', 'bodyparts', 'coords'])
    return pd.DataFrame(values, columns=columns, index=np.arange(frames))


def table_path(out_stem: str, suffix: str, animals: int) -> str:
    """The analysis table's file: ``<out_stem><suffix>`` for one animal,
    ``<out_stem>_el<suffix>`` (DeepLabCut's tracked table) for several."""
    return out_stem + ('_el' if animals > 1 else '') + suffix


def write_deeplabcut_predictions(poses: VideoPoses, path: str) -> str:
    """Write ``poses`` as DeepLabCut's analysis table: ``.h5`` (key
    ``df_with_missing``) or, for any other suffix, ``.csv``."""
    table = deeplabcut_table(poses)
    if path.endswith('.h5'):
        return atomic_write(
            path, lambda p: table.to_hdf(
                p, key='df_with_missing', mode='w', format='table'))
    return atomic_write(path, table.to_csv)


def deeplabcut_meta(poses: VideoPoses) -> dict:
    """The ``_meta.pickle`` content DeepLabCut writes next to its
    analysis table: ``{'data': {...}}``; what is not known (the frame size
    when ``poses.frame_size`` is None, run times without ``poses.run``) is
    None."""
    run = poses.run or {}
    width, height = poses.frame_size or (None, None)
    start, stop = run.get('start'), run.get('stop')
    individuals = poses.individuals
    return {
        'data': {
            'start': start,
            'stop': stop,
            'run_duration':
            None if start is None or stop is None else stop - start,
            'Scorer': poses.scorer,
            'pytorch-config': {
                'config': run.get('config'),
                'metadata': {
                    'bodyparts': list(poses.bodyparts),
                    'unique_bodyparts': [],
                    'individuals': individuals,
                },
            },
            'fps': poses.fps,
            'batch_size': run.get('batch_size'),
            'frame_dimensions': (width, height),
            'nframes': len(poses.keypoints),
            'iteration (active-learning)': None,
            'training set fraction': None,
            'cropping': False,
            'cropping_parameters': [0, width, 0, height],
            'individuals': individuals,
            'bodyparts': list(poses.bodyparts),
            'unique_bodyparts': [],
        }
    }


def write_deeplabcut_meta(poses: VideoPoses, path: str) -> str:
    """Write :func:`deeplabcut_meta` of ``poses`` as a pickle."""
    meta = deeplabcut_meta(poses)

    def write(partial: str) -> None:
        with open(partial, 'wb') as file:
            pickle.dump(meta, file, pickle.HIGHEST_PROTOCOL)

    return atomic_write(path, write)


def read_deeplabcut_predictions(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(T, N, K, 2)`` coordinates and ``(T, N, K)`` likelihoods of a
    DeepLabCut analysis ``.h5`` or ``.csv`` (one or several animals)."""
    import pandas as pd
    if path.endswith('.h5'):
        table = pd.read_hdf(path)
    else:
        with open(path) as file:
            file.readline()
            multi = file.readline().startswith('individuals')
        table = pd.read_csv(
            path, header=list(range(4 if multi else 3)), index_col=0)
    levels = table.columns.nlevels
    frames = len(table)
    parts = table.columns.get_level_values(levels - 2).unique()
    animals = (
        table.columns.get_level_values(1).unique() if levels == 4 else [''])
    values = table.to_numpy(dtype=np.float64).reshape(frames, len(animals),
                                                      len(parts), 3)
    return values[..., :2], values[..., 2]
