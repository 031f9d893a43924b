"""Reading CLIP weights: OpenAI archives, state dicts and open_clip tags.

Every source ends as one flat state dict with OpenAI's key names
(``visual.conv1.weight``, ``transformer.resblocks.0.attn.in_proj_weight``,
``token_embedding.weight``, ...) in float32, from which each module takes
its part with :func:`sub_state_dict`.

Sources understood by :func:`load_clip_state_dict`:

* a path to one of OpenAI's released TorchScript archives (``RN50.pt``,
  ``ViT-B-16.pt``);
* a path to a plain ``torch.save``-d state dict with the same key names
  (optionally nested under ``state_dict`` and/or prefixed by ``module.``,
  as open_clip's training checkpoints are);
* ``open_clip://ARCH/TAG``, an open_clip pretrained tag such as
  ``open_clip://RN50/openai`` or ``open_clip://ViT-B-16/laion2b_s34b_b88k``
  (downloaded and cached by open_clip where a network exists);
* an ``http(s)://`` URL to either kind of file (downloaded and cached).
"""
import os.path as osp
import zipfile
from typing import Dict, List, Mapping, Optional

import torch
from torch import Tensor

from ...utils.checkpoint import (UnreadableCheckpointError,
                                 UnsafeCheckpointError, load_checkpoint_file)
from . import open_clip_api

OPEN_CLIP_SCHEME = 'open_clip://'
# Buffers that TorchScript archives carry but no module loads (the
# attention mask is derived from the context length).
_ARCHIVE_ONLY_KEYS = ('input_resolution', 'context_length', 'vocab_size',
                      'attn_mask')
# One key each CLIP state dict has, for a clear error on a foreign file.
_REQUIRED_KEYS = ('token_embedding.weight', 'visual.conv1.weight')


class CLIPWeightsError(RuntimeError):
    """A CLIP weights file is missing, unreadable or not a CLIP model."""


def resolve_clip_source(source: str, cache_dir: Optional[str] = None) -> str:
    """Turn a source (path, URL or ``open_clip://ARCH/TAG``) into a path.

    Args:
        source (str): where the weights are.
        cache_dir (str, optional): download folder; open_clip's default
            (``~/.cache/clip``) when None.

    Returns:
        str: a local file path.
    """
    if source.startswith(OPEN_CLIP_SCHEME):
        arch, _, tag = source[len(OPEN_CLIP_SCHEME):].partition('/')
        try:
            path = open_clip_api.download_pretrained_tag(
                arch, tag, cache_dir=cache_dir)
        except Exception as error:
            raise CLIPWeightsError(
                f'{source}: open_clip could not fetch the weights ({error}).'
                ' Without a network, download the file elsewhere and give '
                'its local path instead') from error
        if path is None:
            tags = open_clip_api.list_pretrained_tags(arch)
            raise CLIPWeightsError(
                f'{source}: open_clip knows no pretrained tag {tag!r} for '
                f'{arch!r}; its tags for that model are {tags} (write '
                f'open_clip://ARCH/TAG, e.g. open_clip://RN50/openai)')
        return path
    if source.startswith(('http://', 'https://')):
        try:
            return open_clip_api.download_url(source, cache_dir=cache_dir)
        except Exception as error:
            raise CLIPWeightsError(
                f'could not download CLIP weights from {source} ({error}). '
                'Without a network, give a local path instead') from error
    path = osp.expanduser(source)
    if not osp.isfile(path):
        raise CLIPWeightsError(
            f'CLIP weights file not found: {path}. Expected an OpenAI CLIP '
            'archive (e.g. RN50.pt, ViT-B-16.pt), a state dict saved with '
            'torch.save, or open_clip://ARCH/TAG')
    return path


def _read_file(path: str) -> Dict[str, Tensor]:
    """Read a TorchScript archive or a pickled state dict from ``path``."""
    if zipfile.is_zipfile(path):
        try:
            return dict(torch.jit.load(path, map_location='cpu').state_dict())
        except RuntimeError:
            pass  # a zip written by torch.save, not a TorchScript archive
    try:
        obj = load_checkpoint_file(path, what='CLIP weights')
    except UnreadableCheckpointError as error:
        raise CLIPWeightsError(
            f'{error} Expected an OpenAI CLIP TorchScript archive (RN50.pt, '
            'ViT-B-16.pt) or a state dict saved with torch.save') from None
    except UnsafeCheckpointError as error:
        raise CLIPWeightsError(str(error)) from None
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict):
        raise CLIPWeightsError(
            f'{path} holds a {type(obj).__name__}, not a state dict')
    return obj


def load_clip_state_dict(source: str,
                         cache_dir: Optional[str] = None) -> Dict[str, Tensor]:
    """Load CLIP weights as a float32 state dict with OpenAI's key names.

    Args:
        source (str): a path, URL or ``open_clip://ARCH/TAG`` (see the
            module docstring).
        cache_dir (str, optional): where downloads are cached.

    Returns:
        dict[str, Tensor]: the full CLIP state dict (``visual.*`` and the
        text tower's keys at the top level).

    Raises:
        CLIPWeightsError: the file is missing, unreadable, or not CLIP.
    """
    path = resolve_clip_source(source, cache_dir)
    state = _read_file(path)
    if all(key.startswith('module.') for key in state):
        state = {key[len('module.'):]: value for key, value in state.items()}
    for key in _ARCHIVE_ONLY_KEYS:
        state.pop(key, None)
    missing = missing_clip_keys(state)
    if missing:
        sample = sorted(state)[:5]
        raise CLIPWeightsError(
            f'{path} is not a CLIP model: keys {missing} are missing (its '
            f'first keys are {sample}). Expected an OpenAI CLIP archive or '
            'a state dict with the same key names')
    return {
        key: value.float() if value.is_floating_point() else value
        for key, value in state.items()
    }


def missing_clip_keys(state: Mapping[str, object]) -> List[str]:
    """The keys every CLIP state dict has (``token_embedding.weight``,
    ``visual.conv1.weight``) that ``state`` lacks; empty for CLIP."""
    return [key for key in _REQUIRED_KEYS if key not in state]


def sub_state_dict(state: Dict[str, Tensor], prefix: str) -> Dict[str, Tensor]:
    """The entries of ``state`` under ``prefix``, with the prefix removed."""
    return {
        key[len(prefix):]: value
        for key, value in state.items() if key.startswith(prefix)
    }
