"""N-shot-per-species subsets of COCO-style keypoint annotation files.

The paper's few-shot setting (Table 2) trains on 20 random instances of
every AP-10K species. :func:`make_fewshot_split` picks them from a training
annotation file: per category (species), N instances with at least one
labelled keypoint, chosen at random with a seed (the same seed gives the
same subset), and the images those instances are in. Everything else in the
file (``info``, ``licenses``, ``categories``, ...) is kept as it is, so
MMPose's datasets (``AP10KDataset``, ...) read the result like the original.
"""
import json
import os
import os.path as osp
import random
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from promptpose_mm.io.coco import (CocoFileError, check_coco_annotations,
                                   read_coco_file)

# How many species an error message lists before summarising.
_MAX_LISTED = 60


class FewShotSplitError(ValueError):
    """An annotation file cannot be split as asked."""


@dataclass(frozen=True)
class SpeciesSplit:
    """What the split kept of one species (category).

    Attributes:
        category_id (int): the category's id.
        name (str): the category's name.
        available (int): instances with at least one labelled keypoint.
        kept (int): instances kept (``min(shots, available)``).
        images (int): distinct images of the kept instances.
    """

    category_id: int
    name: str
    available: int
    kept: int
    images: int


def load_coco_annotations(path: str) -> Dict[str, Any]:
    """Read and check a COCO-style keypoint annotation file for a split.

    Args:
        path (str): the JSON file.

    Returns:
        dict: its content.

    Raises:
        FileNotFoundError: there is no such file.
        FewShotSplitError: it is not JSON or not a COCO keypoint file (see
            :func:`check_split_input`).
    """
    try:
        return read_coco_file(path)
    except CocoFileError as error:
        raise FewShotSplitError(str(error)) from error


def check_split_input(coco: Any, source: str) -> None:
    """Check what the split needs of a COCO-style annotation dict: the
    structure :func:`~promptpose_mm.io.coco.check_coco_annotations`
    checks, with categories and keypoint annotations.

    Raises:
        FewShotSplitError: naming ``source`` and the first problem found.
    """
    try:
        check_coco_annotations(coco, source)
    except CocoFileError as error:
        raise FewShotSplitError(str(error)) from error


def num_labelled_keypoints(ann: Dict[str, Any]) -> int:
    """``num_keypoints`` of an annotation, or its count of keypoints with
    visibility > 0 when the field is absent."""
    if 'num_keypoints' in ann:
        return int(ann['num_keypoints'])
    return sum(1 for visibility in ann['keypoints'][2::3] if visibility > 0)


def _list_species(species: Sequence[SpeciesSplit]) -> str:
    listed = ', '.join(f'{item.name} (id {item.category_id}): '
                       f'{item.available}' for item in species[:_MAX_LISTED])
    if len(species) > _MAX_LISTED:
        listed += f' and {len(species) - _MAX_LISTED} more'
    return listed


def make_fewshot_split(coco: Dict[str, Any],
                       shots: int,
                       seed: int = 0,
                       allow_fewer: bool = False,
                       source: str = 'annotations'
                       ) -> Tuple[Dict[str, Any], List[SpeciesSplit]]:
    """Keep ``shots`` random labelled instances of every species.

    Only instances with at least one labelled keypoint (``num_keypoints >
    0``) are candidates. Each species draws from its candidates (in file
    order) with its own generator seeded by ``seed`` and its category id,
    so a species' choice depends on nothing else in the file. Annotations
    and images keep their order in the file.

    Args:
        coco (dict): a COCO-style keypoint annotation dict (checked with
            :func:`check_split_input`).
        shots (int): instances per species, N > 0.
        seed (int): the seed; the same seed gives the same subset.
        allow_fewer (bool): keep all instances of species that have fewer
            than ``shots`` instead of raising.
        source (str): the file's name, for the messages.

    Returns:
        tuple: the new annotation dict (the input's keys, with ``images``
        and ``annotations`` reduced) and a :class:`SpeciesSplit` per
        category, in the order of ``categories``.

    Raises:
        FewShotSplitError: malformed input, ``shots`` < 1, or (without
            ``allow_fewer``) species with fewer than ``shots`` instances,
            all listed with their counts.
    """
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise FewShotSplitError(
            f'shots must be a positive integer, got {shots!r}')
    check_split_input(coco, source)
    candidates: Dict[Any, List[int]] = {
        category['id']: []
        for category in coco['categories']
    }
    for index, ann in enumerate(coco['annotations']):
        if num_labelled_keypoints(ann) > 0:
            candidates[ann['category_id']].append(index)

    kept = set()
    report = []
    for category in coco['categories']:
        category_id = category['id']
        chosen = candidates[category_id]
        if len(chosen) > shots:
            rng = random.Random(f'{seed}:{category_id}')
            chosen = sorted(rng.sample(chosen, shots))
        kept.update(chosen)
        report.append(
            SpeciesSplit(
                category_id=category_id,
                name=str(category.get('name', category_id)),
                available=len(candidates[category_id]),
                kept=len(chosen),
                images=len({
                    coco['annotations'][index]['image_id']
                    for index in chosen
                })))

    too_few = [item for item in report if item.available < shots]
    if too_few and not allow_fewer:
        raise FewShotSplitError(
            f'{source}: {len(too_few)} species have fewer than {shots} '
            'instances with labelled keypoints (name (id): count): '
            f'{_list_species(too_few)}. Lower the number of shots, or pass '
            'allow_fewer (--allow-fewer) to keep all instances they have')

    annotations = [coco['annotations'][index] for index in sorted(kept)]
    image_ids = {ann['image_id'] for ann in annotations}
    images = [image for image in coco['images'] if image['id'] in image_ids]
    split = dict(coco)
    split['images'] = images
    split['annotations'] = annotations
    return split, report


def format_report(report: Sequence[SpeciesSplit], shots: int) -> str:
    """A table of what a split kept per species, with totals.

    Species with fewer than ``shots`` instances are marked ``fewer``.

    Args:
        report (Sequence[SpeciesSplit]): from :func:`make_fewshot_split`.
        shots (int): the N asked for.

    Returns:
        str: the table, one line per species.
    """
    width = max([len('species')] + [len(item.name) for item in report])
    lines = [
        f'{"id":>5}  {"species":<{width}}  {"labelled":>8}  {"kept":>5}  '
        f'{"images":>6}  note'
    ]
    for item in report:
        note = (f'fewer than {shots}: kept all'
                if item.available < shots else '')
        lines.append(f'{item.category_id!s:>5}  {item.name:<{width}}  '
                     f'{item.available:>8}  {item.kept:>5}  '
                     f'{item.images:>6}  {note}'.rstrip())
    fewer = sum(item.available < shots for item in report)
    lines.append(f'{len(report)} species, '
                 f'{sum(item.kept for item in report)} instances kept '
                 f'({shots} per species asked' +
                 (f'; {fewer} species with fewer' if fewer else '') + ')')
    return '\n'.join(lines)


def make_fewshot_split_file(in_file: str,
                            out_file: str,
                            shots: int,
                            seed: int = 0,
                            allow_fewer: bool = False) -> List[SpeciesSplit]:
    """Write the ``shots``-per-species subset of ``in_file`` to
    ``out_file`` (see :func:`make_fewshot_split`).

    Args:
        in_file (str): a COCO-style keypoint annotation file.
        out_file (str): where to write the subset (folders are created);
            must not be ``in_file``.
        shots (int): instances per species.
        seed (int): the seed.
        allow_fewer (bool): keep all instances of species with fewer.

    Returns:
        list[SpeciesSplit]: what was kept per species.
    """
    if osp.abspath(in_file) == osp.abspath(out_file):
        raise FewShotSplitError(
            f'{out_file}: the output would overwrite the input annotation '
            'file; choose another output path')
    coco = load_coco_annotations(in_file)
    split, report = make_fewshot_split(
        coco, shots, seed=seed, allow_fewer=allow_fewer, source=in_file)
    folder = osp.dirname(osp.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    with open(out_file, 'w', encoding='utf-8') as file:
        json.dump(split, file)
    return report
