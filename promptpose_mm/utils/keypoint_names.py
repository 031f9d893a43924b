"""Keypoint names as natural language, for the text prompts.

MMPose datasets name their keypoints in many styles (``L_F_Paw``,
``root_of_tail``, ``L_EarBase``, ``forelegL1``, ``Ankle_Left``); CLIP's text
encoder reads plain English best. :func:`humanize_keypoint_name` rewrites one
name, :func:`keypoint_names_from_metainfo` reads all names of a dataset from
its MMPose metainfo, and :func:`resolve_keypoint_names` settles which names a
model uses from its config (explicit list, metainfo, expected count).
"""
import re
from typing import Dict, List, Optional, Sequence

# Word boundaries inside an identifier: ``earBase`` -> ``ear Base``,
# ``HTMLParser`` -> ``HTML Parser``; and between letters and digits.
_CAMEL_CASE = re.compile(r'(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])')
_LETTER_DIGIT = re.compile(r'(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])')
_SEPARATORS = re.compile(r'[\W_]+')
# Single-letter abbreviations used by animal datasets (``L_F_Paw``).
_ABBREVIATIONS = {'l': 'left', 'r': 'right', 'f': 'front', 'b': 'back'}

_METAINFO_HINT = ("pass the dataset's metainfo, e.g. "
                  "metainfo=dict(from_file='configs/_base_/datasets/"
                  "ap10k.py'), or an MMPose metainfo dict with "
                  "'keypoint_info' (raw) or 'keypoint_id2name' (parsed)")


def humanize_keypoint_name(name: str) -> str:
    """Turn a dataset keypoint name into lower-case words.

    Splits snake_case, camelCase and letter/digit runs, expands the
    single-letter abbreviations L, R, F, B (left, right, front, back),
    lower-cases and collapses spaces.

    Examples:
        >>> humanize_keypoint_name('L_F_Paw')
        'left front paw'
        >>> humanize_keypoint_name('forelegL1')
        'foreleg left 1'

    Args:
        name (str): the name as the dataset spells it.

    Returns:
        str: the name in natural language.
    """
    if not isinstance(name, str):
        raise TypeError(f'a keypoint name must be a str, got {name!r} '
                        f'({type(name).__name__})')
    text = _SEPARATORS.sub(' ', name)
    text = _CAMEL_CASE.sub(' ', text)
    text = _LETTER_DIGIT.sub(' ', text)
    words = [
        _ABBREVIATIONS.get(word.lower(), word.lower())
        for word in text.split()
    ]
    if not words:
        raise ValueError(f'keypoint name {name!r} has no letters or digits')
    return ' '.join(words)


def _id2name_from_metainfo(metainfo: dict) -> Dict[int, str]:
    """Map keypoint id to the dataset's own name, from any metainfo form."""
    if 'keypoint_id2name' in metainfo:
        return dict(metainfo['keypoint_id2name'])
    if 'keypoint_info' in metainfo:
        return {
            int(idx): info['name']
            for idx, info in metainfo['keypoint_info'].items()
        }
    if 'from_file' not in metainfo:
        raise ValueError(f'metainfo has no keypoint names (its keys are '
                         f'{sorted(metainfo)}): {_METAINFO_HINT}')
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    source = metainfo['from_file']
    try:
        parsed = parse_pose_metainfo(dict(metainfo))
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f'metainfo from_file={source!r}: {error} Give a path to an '
            'MMPose dataset metainfo file (local, or one bundled with '
            "mmpose such as 'configs/_base_/datasets/ap10k.py')") from error
    except (AssertionError, AttributeError, KeyError) as error:
        raise ValueError(
            f'metainfo from_file={source!r} is not an MMPose dataset '
            'metainfo file: it must define dataset_info with dataset_name, '
            'keypoint_info, skeleton_info, joint_weights and sigmas '
            f'({type(error).__name__}: {error})') from error
    return dict(parsed['keypoint_id2name'])


def keypoint_names_from_metainfo(metainfo: dict) -> List[str]:
    """Humanized keypoint names of a dataset, in keypoint-id order.

    Args:
        metainfo (dict): MMPose metainfo in one of three forms: parsed
            (with ``keypoint_id2name``, as ``dataset.metainfo``), raw (with
            ``keypoint_info``, as a ``dataset_info`` file defines it) or
            ``dict(from_file=PATH)``, read with mmpose's
            ``parse_pose_metainfo`` (which also finds mmpose's bundled
            ``configs/_base_/datasets/*.py`` when ``PATH`` is not local).

    Returns:
        list[str]: one natural-language name per keypoint id ``0..K-1``.

    Raises:
        ValueError: the metainfo holds no keypoint names, or its ids are
            not ``0..K-1``.
    """
    if not isinstance(metainfo, dict):
        raise TypeError(f'metainfo must be a dict, got '
                        f'{type(metainfo).__name__}: {_METAINFO_HINT}')
    id2name = _id2name_from_metainfo(metainfo)
    if not id2name:
        raise ValueError(f'metainfo lists no keypoints: {_METAINFO_HINT}')
    if sorted(id2name) != list(range(len(id2name))):
        raise ValueError(
            f'metainfo keypoint ids must be 0..{len(id2name) - 1}, got '
            f'{sorted(id2name)}')
    declared = metainfo.get('num_keypoints')
    if declared is not None and declared != len(id2name):
        raise ValueError(f'metainfo says num_keypoints={declared} but names '
                         f'{len(id2name)} keypoints')
    return [humanize_keypoint_name(id2name[idx]) for idx in sorted(id2name)]


def _describe_metainfo(metainfo: dict) -> str:
    """A short label for error messages: the file when there is one."""
    source = metainfo.get('from_file') if isinstance(metainfo, dict) else None
    return f'metainfo ({source})' if source else 'metainfo'


def resolve_keypoint_names(keypoint_names: Optional[Sequence[str]] = None,
                           metainfo: Optional[dict] = None,
                           num_keypoints: Optional[int] = None,
                           owner: str = 'PromptPoseNeck') -> List[str]:
    """The keypoint names a model uses, checked against each other.

    An explicit ``keypoint_names`` list is used verbatim and overrides the
    names read from ``metainfo`` (humanized); when both are given their
    counts must match, and so must ``num_keypoints`` when given.

    Args:
        keypoint_names (Sequence[str], optional): names for the prompts.
        metainfo (dict, optional): dataset metainfo, see
            :func:`keypoint_names_from_metainfo`.
        num_keypoints (int, optional): the expected number of keypoints.
        owner (str): the module the names are for, used in error messages.

    Returns:
        list[str]: ``K`` names.

    Raises:
        ValueError: no names can be found, or the counts disagree.
    """
    counts = []  # (where the count came from, count)
    names = None
    if keypoint_names is not None:
        if isinstance(keypoint_names, str) or not all(
                isinstance(name, str) and name.strip()
                for name in keypoint_names):
            raise ValueError(
                f'{owner}: keypoint_names must be a list of non-empty '
                f'strings, got {keypoint_names!r}')
        names = [name.strip() for name in keypoint_names]
        counts.append(('keypoint_names (explicit list)', len(names)))
    if metainfo is not None:
        from_metainfo = keypoint_names_from_metainfo(metainfo)
        counts.append((_describe_metainfo(metainfo), len(from_metainfo)))
        if names is None:
            names = from_metainfo
    if names is None:
        raise ValueError(
            f'{owner} needs the keypoint names for its text prompts. The '
            'PromptPose configs take them from their dataset: build the '
            'model through mim train / mim test (runner_type='
            "'PromptPoseRunner'), promptpose_mm.apis.init_model or "
            'promptpose_mm.engine.apply_dataset_keypoints(cfg) (which fill '
            "them in), or set the neck's metainfo=dict(from_file="
            "'configs/_base_/datasets/ap10k.py') or keypoint_names=[...]")
    if num_keypoints is not None:
        counts.append(('num_keypoints', num_keypoints))
    (first, expected), *others = counts
    for where, count in others:
        if count != expected:
            raise ValueError(
                f'{owner}: keypoint counts disagree: {first} gives '
                f'{expected} keypoints but {where} gives {count}. Make them '
                'describe the same dataset')
    return names
