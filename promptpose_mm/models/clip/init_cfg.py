"""``init_cfg=dict(type='PretrainedCLIP', checkpoint=SRC)``: CLIP weights.

The CLIP backbones (:class:`CLIPResNet`, :class:`CLIPVisionTransformer`)
and :class:`PromptPoseNeck` (CLIP's text tower) load their part of a CLIP
model from ``SRC`` (see :func:`load_clip_state_dict`):

* an OpenAI CLIP archive (``RN50.pt``, ``ViT-B-16.pt``),
* a state dict with OpenAI's key names (saved with ``torch.save``),
* ``open_clip://ARCH/TAG``, e.g. ``open_clip://RN50/openai``,
* an ``http(s)://`` URL to either kind of file.

``type='Pretrained'`` keeps MMEngine's meaning: a checkpoint of this very
module, or of a model holding it under ``prefix`` (``'backbone.'``,
``'neck.'`` of an MMPose checkpoint). Since CLIP weights were once given as
``Pretrained``, a ``Pretrained`` entry without a prefix (or with the old
``prefix='visual.'``) whose checkpoint is recognisably CLIP is refused with
a message naming the new type, instead of loading nothing.

:func:`split_clip_init_cfg` interprets an ``init_cfg``;
:class:`CLIPInitMixin` gives a module the ``init_weights`` that uses it.
"""
import os
import os.path as osp
import pickle
import zipfile
from typing import List, Optional, Tuple, Union

import torch
from mmengine.logging import MMLogger
from mmengine.model.weight_init import PretrainedInit

from .loading import OPEN_CLIP_SCHEME, missing_clip_keys

#: The ``init_cfg`` type that loads CLIP weights.
CLIP_INIT_TYPE = 'PretrainedCLIP'
#: The keys a ``PretrainedCLIP`` entry may have.
CLIP_INIT_KEYS = ('type', 'checkpoint')
#: URLs of OpenAI's released CLIP archives start with this.
OPENAI_CLIP_URL = 'https://openaipublic.azureedge.net/clip/'
# The prefix that once meant "CLIP's visual tower" in a Pretrained entry.
_OLD_CLIP_PREFIX = 'visual.'
_EXAMPLE = (f"dict(type='{CLIP_INIT_TYPE}', "
            "checkpoint='open_clip://RN50/openai')")
_SOURCES = ('an OpenAI CLIP archive (RN50.pt, ViT-B-16.pt), a state dict '
            'with the same key names, a URL or open_clip://ARCH/TAG')
InitCfg = Optional[Union[dict, List[dict]]]


def _is_torchscript_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive, the format of OpenAI's
    CLIP releases (its zip holds ``constants.pkl`` and ``code/``)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(
        name.endswith('/constants.pkl') or '/code/' in name for name in names)


def _is_clip_state_dict_file(path: str) -> bool:
    """Whether ``path`` is a ``torch.save``-d zip holding a CLIP state dict.

    Memory-maps the file (no tensor is read); any file that cannot be read
    this way counts as not CLIP, its loader then reports it.
    """
    if not zipfile.is_zipfile(path):
        return False
    try:
        obj = torch.load(
            path, map_location='cpu', weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError,
            ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return False
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict):
        return False
    if obj and all(str(key).startswith('module.') for key in obj):
        obj = {key[len('module.'):]: value for key, value in obj.items()}
    return not missing_clip_keys(obj)


def looks_like_clip_weights(source: object) -> bool:
    """Whether ``source`` names CLIP weights (see the module docstring).

    True for ``open_clip://ARCH/TAG``, OpenAI's CLIP URLs, a local
    TorchScript archive and a local state dict with CLIP's key names.
    """
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        return False
    if source.startswith((OPEN_CLIP_SCHEME, OPENAI_CLIP_URL)):
        return True
    path = osp.expanduser(source)
    if not osp.isfile(path):
        return False
    return _is_torchscript_archive(path) or _is_clip_state_dict_file(path)


def _check_clip_entry(cfg: dict, owner: str) -> str:
    """The checkpoint of a ``PretrainedCLIP`` entry, validated."""
    if 'prefix' in cfg:
        raise ValueError(
            f'{owner}: init_cfg {cfg} has a prefix, which '
            f"type='{CLIP_INIT_TYPE}' does not take: it loads the part of "
            'the CLIP model this module holds (the visual tower for a '
            'backbone, the text tower for the neck). Drop the prefix; to '
            "load an MMPose checkpoint use type='Pretrained' with "
            "prefix='backbone.' or 'neck.'")
    unknown = sorted(set(cfg) - set(CLIP_INIT_KEYS))
    if unknown:
        raise ValueError(
            f'{owner}: init_cfg {cfg} has unknown keys {unknown}; '
            f"type='{CLIP_INIT_TYPE}' takes only checkpoint=SRC, e.g. "
            f'{_EXAMPLE}')
    checkpoint = cfg.get('checkpoint')
    if isinstance(checkpoint, os.PathLike):
        checkpoint = os.fspath(checkpoint)
    if not isinstance(checkpoint, str) or not checkpoint:
        raise ValueError(
            f"{owner}: init_cfg {cfg} lacks 'checkpoint': write "
            f"dict(type='{CLIP_INIT_TYPE}', checkpoint=SRC) with SRC "
            f'{_SOURCES}, e.g. {_EXAMPLE}')
    return checkpoint


def _check_pretrained_entry(cfg: dict, owner: str) -> None:
    """Refuse a ``Pretrained`` entry that names CLIP weights."""
    if cfg.get('prefix') not in (None, _OLD_CLIP_PREFIX):
        return
    checkpoint = cfg.get('checkpoint')
    if not looks_like_clip_weights(checkpoint):
        return
    raise ValueError(
        f'{owner}: init_cfg {cfg} names CLIP weights, but '
        "type='Pretrained' is MMEngine's loader of checkpoints of this "
        "module (prefix='backbone.' or 'neck.' selects it in an MMPose "
        'checkpoint) and would load nothing from them. To load CLIP '
        f"weights write dict(type='{CLIP_INIT_TYPE}', "
        f'checkpoint={checkpoint!r})')


def split_clip_init_cfg(init_cfg: InitCfg,
                        owner: str) -> Tuple[Optional[str], List[dict]]:
    """Find the CLIP weights of an ``init_cfg``, validating every entry.

    Args:
        init_cfg (dict | list[dict], optional): the module's ``init_cfg``.
        owner (str): the module's name, for the messages.

    Returns:
        tuple: the checkpoint of the ``PretrainedCLIP`` entry (None without
        one) and the other entries, in order, for MMEngine.

    Raises:
        ValueError: a ``PretrainedCLIP`` entry lacks its checkpoint, has a
            prefix or unknown keys, or appears twice; or a ``Pretrained``
            entry without prefix names CLIP weights. Each message says
            what to write instead.
    """
    cfgs = init_cfg or []
    if isinstance(cfgs, dict):
        cfgs = [cfgs]
    checkpoint, others = None, []
    for cfg in cfgs:
        if not isinstance(cfg, dict):
            raise TypeError(f'{owner}: every init_cfg entry must be a dict, '
                            f'got {cfg!r}')
        if cfg.get('type') == CLIP_INIT_TYPE:
            if checkpoint is not None:
                raise ValueError(f'{owner}: init_cfg has more than one type='
                                 f"'{CLIP_INIT_TYPE}' entry; keep one")
            checkpoint = _check_clip_entry(cfg, owner)
            continue
        if cfg.get('type') in ('Pretrained', PretrainedInit):
            _check_pretrained_entry(cfg, owner)
        others.append(cfg)
    return checkpoint, others


class CLIPInitMixin:
    """``init_weights`` for modules that accept ``type='PretrainedCLIP'``.

    The other ``init_cfg`` entries (and the children's ``init_weights``) run
    through MMEngine first; then :meth:`load_clip_weights` loads the CLIP
    checkpoint, so that it wins over e.g. a ``Constant`` initialisation.
    Mixed in before ``mmengine.model.BaseModule`` (or a subclass).
    """

    def load_clip_weights(self, source: str) -> None:
        """Load this module's part of the CLIP weights at ``source``."""
        raise NotImplementedError

    def init_weights(self) -> None:
        """Initialise: MMEngine's ``init_weights`` for the other
        ``init_cfg`` entries, then the CLIP weights of a ``PretrainedCLIP``
        entry (see :func:`split_clip_init_cfg`)."""
        name = type(self).__name__
        source, others = split_clip_init_cfg(self.init_cfg, name)
        if source is None:
            super().init_weights()
            return
        if self.is_init:
            MMLogger.get_current_instance().warning(
                f'init_weights of {name} has been called more than once; '
                'the CLIP weights are not loaded again')
            return
        full_cfg = self.init_cfg
        self.init_cfg = others
        try:
            super().init_weights()
        finally:
            self.init_cfg = full_cfg
        try:
            self.load_clip_weights(source)
        except BaseException:
            self._is_init = False  # a second call may try again
            raise
