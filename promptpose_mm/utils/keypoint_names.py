"""Keypoint names as natural language, for the text prompts.

MMPose datasets name their keypoints in many styles (``L_F_Paw``,
``root_of_tail``, ``L_EarBase``, ``forelegL1``, ``Ankle_Left``); CLIP's text
encoder reads plain English best. :func:`humanize_keypoint_name` rewrites one
name, :func:`keypoint_names_from_metainfo` reads all names of a dataset from
its MMPose metainfo, :func:`resolve_keypoint_names` settles which names a
model uses from its config (explicit list, metainfo, expected count), and
:func:`model_keypoint_fields` fills a neck's and a head's keypoint fields in
from a metainfo, checking those a config sets.
"""
import copy
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

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
            f'{owner} needs the keypoint names for its text prompts: give '
            "the estimator the dataset's metainfo (model=dict(type="
            "'PromptPoseEstimator', metainfo=dict(from_file="
            "'configs/_base_/datasets/ap10k.py'), ...), as the PromptPose "
            "configs do), or set the neck's metainfo or keypoint_names=[...]")
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


class KeypointConfigError(ValueError):
    """A model's keypoints disagree with its metainfo or its dataset."""


def describe_metainfo(metainfo: Any) -> str:
    """How an error message names a metainfo: its file, dataset name or
    ``'an inline metainfo dict'``."""
    if isinstance(metainfo, dict) and 'from_file' in metainfo:
        return repr(metainfo['from_file'])
    if isinstance(metainfo, dict) and 'dataset_name' in metainfo:
        return f"dataset_name {metainfo['dataset_name']!r}"
    return 'an inline metainfo dict'


def _check_count(value: Any, name: str, k: int, source: str) -> None:
    if value is not None and int(value) != k:
        raise KeypointConfigError(
            f'{name}={value} but {source} has {k} keypoints: remove {name} '
            '(it follows the metainfo) or set it to match')


def _has_prompts(neck: dict) -> bool:
    """Whether a neck config takes keypoint names (PromptPoseNeck)."""
    return (neck.get('type') == 'PromptPoseNeck' or any(
        key in neck
        for key in ('metainfo', 'keypoint_names', 'num_keypoints')))


def model_keypoint_fields(neck: Optional[dict], head: Optional[dict],
                          metainfo: dict, source: str
                          ) -> Tuple[Optional[dict], Optional[dict]]:
    """A neck's and a head's configs with their keypoints from a metainfo.

    A prompt neck (``PromptPoseNeck``) without ``keypoint_names`` or
    ``metainfo`` gets ``metainfo``; ``num_keypoints`` and the head's
    ``out_channels`` get ``K``. Values already set are checked instead:
    prompt names read from another metainfo, an explicit name list of
    another length or another ``K`` raise, naming both sides.

    Args:
        neck (dict, optional): the neck config (not modified).
        head (dict, optional): the head config (not modified).
        metainfo (dict): the keypoints' source, any form
            :func:`keypoint_names_from_metainfo` reads.
        source (str): how messages name ``metainfo`` (``'model.metainfo
            (ap10k.py)'``).

    Returns:
        tuple: copies of ``(neck, head)`` with the fields filled in.

    Raises:
        KeypointConfigError: a set value disagrees with ``metainfo``.
    """
    names = keypoint_names_from_metainfo(metainfo)
    k = len(names)
    neck, head = copy.deepcopy(neck), copy.deepcopy(head)
    if isinstance(neck, dict) and _has_prompts(neck):
        if neck.get('keypoint_names') is not None:
            _check_count(
                len(neck['keypoint_names']),
                'neck.keypoint_names (its length)', k, source)
        elif neck.get('metainfo') is not None:
            prompt_names = keypoint_names_from_metainfo(neck['metainfo'])
            if prompt_names != names:
                raise KeypointConfigError(
                    'the prompt names disagree: neck.metainfo '
                    f'({describe_metainfo(neck["metainfo"])}) names '
                    f'{len(prompt_names)} keypoints {prompt_names}, but '
                    f'{source} names {k}: {names}. Remove neck.metainfo '
                    "(the prompts then follow the estimator's metainfo) or "
                    'make both describe one dataset')
        else:
            neck['metainfo'] = copy.deepcopy(metainfo)
        _check_count(
            neck.get('num_keypoints'), 'neck.num_keypoints', k, source)
        neck['num_keypoints'] = k
    if isinstance(head, dict) and 'out_channels' in head:
        _check_count(head['out_channels'], 'head.out_channels', k, source)
        head['out_channels'] = k
    return neck, head
