"""An MMPose dataset metainfo file for a
:class:`~promptpose_mm.io.labels.LabelSet`.

Keypoint names are the set's bodyparts, links its skeleton. Flip pairs are
the set's own (SLEAP's symmetries) or, when it has none, found from
left/right names (``LeftEar`` / ``RightEar``, ``L_paw`` / ``R_paw``); any
other keypoint maps to itself on a flip. Every keypoint has joint weight 1
and one OKS sigma, :data:`DEFAULT_SIGMA` unless given: DeepLabCut and SLEAP
define none (COCO's range from 0.025 for eyes to 0.107 for hips; 0.025 is
the strictest).
"""
from typing import Dict, List, Optional, Sequence, Tuple

from promptpose_mm.io.labels import LabelError, LabelSet
from promptpose_mm.utils.keypoint_names import humanize_keypoint_name

DEFAULT_SIGMA = 0.025
_PALETTE = [[255, 128, 0], [0, 255, 0], [51, 153, 255], [255, 51, 255],
            [255, 255, 0], [0, 255, 255], [255, 0, 0], [128, 0, 255]]
_PAPERS = {
    'deeplabcut':
    dict(
        author='Mathis, Alexander and others',
        title='DeepLabCut: markerless pose estimation of user-defined '
        'body parts with deep learning',
        container='Nature Neuroscience',
        year='2018',
        homepage='https://github.com/DeepLabCut/DeepLabCut'),
    'sleap':
    dict(
        author='Pereira, Talmo D. and others',
        title='SLEAP: A deep learning system for multi-animal pose tracking',
        container='Nature Methods',
        year='2022',
        homepage='https://sleap.ai'),
}


def flip_partner(name: str, names: Sequence[str]) -> str:
    """The keypoint that mirrors ``name`` (left <-> right), or ''."""
    words = humanize_keypoint_name(name).split()
    swap = {'left': 'right', 'right': 'left'}
    if not any(word in swap for word in words):
        return ''
    mirrored = [swap.get(word, word) for word in words]
    for other in names:
        if humanize_keypoint_name(other).split() == mirrored:
            return other
    return ''


def flip_partners(names: Sequence[str],
                  pairs: Optional[Sequence[Tuple[str,
                                                 str]]] = None) -> List[str]:
    """Each keypoint's flip partner ('' for none), from ``pairs`` when
    given, else from left/right names."""
    if pairs is None:
        return [flip_partner(name, names) for name in names]
    partner: Dict[str, str] = {}
    for a, b in pairs:
        for one, other in ((a, b), (b, a)):
            if partner.get(one, other) != other:
                raise LabelError(f'keypoint {one!r} has two flip partners: '
                                 f'{partner[one]!r} and {other!r}')
            partner[one] = other
    return [partner.get(name, '') for name in names]


def pose_metainfo(label_set: LabelSet, sigma: float = DEFAULT_SIGMA) -> dict:
    """MMPose ``dataset_info`` of the set (see the module for the rules).

    Args:
        label_set (LabelSet): names, skeleton, flip pairs, source.
        sigma (float): the OKS sigma of every keypoint.
    """
    names = label_set.bodyparts
    swaps = flip_partners(names, label_set.flip_pairs)
    keypoint_info = {
        i:
        dict(
            name=name,
            id=i,
            color=_PALETTE[i % len(_PALETTE)],
            type='',
            swap=swap)
        for i, (name, swap) in enumerate(zip(names, swaps))
    }
    skeleton_info = {
        i: dict(link=tuple(link), id=i, color=[0, 0, 255])
        for i, link in enumerate(label_set.skeleton)
    }
    info = dict(
        dataset_name=f'{label_set.source or "labels"}_{label_set.name}',
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[1.0] * len(names),
        sigmas=[float(sigma)] * len(names))
    if label_set.source in _PAPERS:
        info['paper_info'] = _PAPERS[label_set.source]
    return info


def write_metainfo(path: str, dataset_info: dict) -> str:
    """Write ``dataset_info = ...`` as an MMPose metainfo file."""
    with open(path, 'w') as file:
        file.write('# MMPose dataset metainfo written by promptpose_mm.'
                   'annotations\n')
        file.write(f'dataset_info = {dataset_info!r}\n')
    return path
