"""Convert checkpoints of the published CLAMP code into this plugin's layout.

CLAMP (Zhang et al., CVPR 2023) is the published code of PromptPose, built
on MMPose 0.x: https://github.com/xuzhang1199/CLAMP (layout read from
``mmpose/models/detectors/top_down.py`` class
``CLAMP``, ``mmpose/models/backbones/clip.py`` (``CLIPResNetWithAttention``,
``CLIPVisionTransformer``, ``CLIPTextContextEncoder``,
``PromptEncoderWithoutPositionemb``, ``ContextDecoder``),
``mmpose/models/heads/topdown_heatmap_simple_head.py`` and the configs
``configs/animal/.../ap10k/CLAMP_{res50,ViTB}_ap10k_256x256.py``).

Its checkpoints (``{'meta', 'state_dict', 'optimizer'}`` as MMCV 1.x saves
them) map onto a ``TopdownPoseEstimator`` with ``CLIPResNet`` /
``CLIPVisionTransformer``, ``PromptPoseNeck`` and ``PromptPoseHead`` as
:data:`CLAMP_KEY_RULES` says (CLAMP key -> ours):

* ``backbone.*`` -> ``backbone.clip.*``
* ``text_encoder.*`` -> ``neck.text_encoder.clip.*``
* ``contexts`` ``(1, n, W)`` -> ``neck.text_encoder.context`` ``(n, W)``
* ``prompt_encoder.transformer.resblocks.0.*`` ->
  ``neck.prompt_encoder.block.*``
* ``prompt_encoder.ln_final.*`` -> ``neck.prompt_encoder.norm.*``
* ``context_decoder.*`` -> ``neck.context_decoder.*`` (the same
  DenseCLIP layer: ``decoder.i.{self_attn,cross_attn}.{q,k,v}_proj.weight``
  without bias, ``...proj.*``, ``decoder.i.mlp.{0,3}.*``,
  ``decoder.i.norm{1,2,3}.*``)
* ``gamma`` -> ``neck.gamma``
* ``keypoint_head.*`` -> ``head.*``
* ``upconv_head.*`` -> ``head.pixel_branch.*``
* ``logit_scale`` -> ``head.semantic_loss_module.logit_scale``

Differences of formula folded into the weights exactly:

* ViT class embedding: CLAMP's ``CLIPVisionTransformer`` prepends
  ``class_embedding`` as the class token and then adds
  ``positional_embedding[0] + class_embedding`` to it, so the class token
  is ``2 * class_embedding + pos[0]``; ours adds it once
  (``class_embedding + pos[0]``). Ours ``pos[0]`` = CLAMP ``pos[0] +
  class_embedding``.
* Text positional embedding: CLAMP keeps only the first ``L`` (13) rows of
  CLIP's 77; ours keeps 77 and uses the first ``L``. The remaining rows
  come from the CLIP weights when given (``clip_positions``), else zeros;
  they are unused as long as every prompt fits in ``L`` tokens.

The prompts: CLAMP's configs name the keypoints in their own words
(``class_names``, e.g. ``'tail root'`` where the humanized AP-10K name is
``'root of tail'``). :func:`convert_clamp_checkpoint` takes them from the
config text MMPose 0.x saves in the checkpoint's ``meta['config']``, or,
for a 17-keypoint model without it, from CLAMP's AP-10K configs
(:data:`CLAMP_AP10K_KEYPOINT_NAMES`), and writes a config next to the
converted file (the target config with ``model.neck.keypoint_names`` set
to those words and ``load_from`` the converted file), so that ``mim test``
and the inferencers with that config compute CLAMP's outputs.

CLAMP keys that its forward pass never reads are dropped
(:data:`CLAMP_UNUSED_KEYS`); configuration buffers CLAMP lacks come from the
target model (:data:`CLAMP_DERIVED_KEYS`). Differences that no weight can
express are reported as warnings by :func:`clamp_compatibility_warnings`:
the prompt encoder's MLP activation (QuickGELU in CLAMP), prompt words other
than CLAMP's (when the config sets ``keypoint_names`` explicitly), the
logit-scale clamp (training only). The run-time resize of positional
embeddings is the backbone's (CLAMP's is bilinear); it matters only at an
input size other than the checkpoint's grid. The pixel branch
(``upconv_head``) has the published widths only in a config with the same
deconvolution widths: CLAMP's ResNet-50 config builds it with MMPose 0.x's
default 256-channel deconvolutions, its ViT-B/16 config with K channels
(``num_deconv_filters=(17, 17)``), which is what this plugin's ResNet-50
and ViT-B/16 configs set (``pixel_deconv_out_channels``);
:data:`CLAMP_MISMATCH_HINTS` explains a shape mismatch otherwise.
"""
import ast
import copy
import logging
import math
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from torch import Tensor, nn

from promptpose_mm.models.clip.open_clip_api import (block_mlp_activation,
                                                     is_quick_gelu)
from promptpose_mm.utils.installed_configs import (PAPER_CONFIGS,
                                                   installed_config)
from promptpose_mm.version import __version__

logger = logging.getLogger(__name__)

#: ``(pattern, replacement)``: a CLAMP key that fully matches ``pattern``
#: becomes ``re.sub(pattern, replacement, key)``; the first match wins.
CLAMP_KEY_RULES: Tuple[Tuple[str, str], ...] = (
    (r'backbone\.(.+)', r'backbone.clip.\1'),
    (r'text_encoder\.(.+)', r'neck.text_encoder.clip.\1'),
    (r'contexts', r'neck.text_encoder.context'),
    (r'prompt_encoder\.transformer\.resblocks\.0\.(.+)',
     r'neck.prompt_encoder.block.\1'),
    (r'prompt_encoder\.ln_final\.(.+)', r'neck.prompt_encoder.norm.\1'),
    (r'context_decoder\.(.+)', r'neck.context_decoder.\1'),
    (r'gamma', r'neck.gamma'),
    (r'keypoint_head\.((?:deconv_layers|final_layer)\..+)', r'head.\1'),
    (r'upconv_head\.((?:deconv_layers|final_layer)\..+)',
     r'head.pixel_branch.\1'),
    (r'logit_scale', r'head.semantic_loss_module.logit_scale'),
)

#: CLAMP keys its forward pass never reads, and why.
CLAMP_UNUSED_KEYS: Dict[str, str] = {
    'text_projection':
    'CLAMP.feature_adapt applies it only when the text and visual '
    'embedding sizes differ, which they never do in its configs',
    'prompt_encoder.positional_embedding':
    'PromptEncoderWithoutPositionemb creates it but does not use it',
    'prompt_encoder.text_projection':
    'PromptEncoderWithoutPositionemb creates it but does not use it',
}

#: Target buffers that describe the model's configuration rather than
#: learned weights, which CLAMP has no counterpart for: taken from the target
#: model (whose positional embeddings the checkpoint's must match in shape).
CLAMP_DERIVED_KEYS: Dict[str, str] = {
    'backbone.pos_embed_grid':
    'the token grid of the positional embedding, from the config',
}

#: Explanations of known architecture differences, by the prefix of the
#: mismatched keys.
CLAMP_MISMATCH_HINTS: Dict[str, str] = {
    'head.pixel_branch.':
    "CLAMP's ResNet-50 config builds its upconv_head (the pixel branch) "
    "with MMPose 0.x's default 256-channel deconvolutions, its ViT-B/16 "
    'config with K-channel ones (num_deconv_filters=(17, 17)): set the '
    "target config's head.pixel_deconv_out_channels to the same widths "
    '((256, 256, 256) for ResNet-50, None for K channels), as the '
    'ResNet-50 and ViT-B/16 PromptPose configs do',
    'neck.context_decoder.':
    "CLAMP's context decoder (DenseCLIP's) has width 256, 3 layers and an "
    'MLP of 4 x width: set model.neck.context_decoder to the same '
    '(width=256, layers=3, num_heads=4)',
}

#: The prompts of CLAMP's AP-10K configs (``class_names``), keypoint order.
CLAMP_AP10K_KEYPOINT_NAMES: Tuple[str,
                                  ...] = ('left eye', 'right eye', 'nose',
                                          'neck', 'tail root', 'left shoulder',
                                          'left elbow', 'left front paw',
                                          'right shoulder', 'right elbow',
                                          'right front paw', 'left hip',
                                          'left knee', 'left back paw',
                                          'right hip', 'right knee',
                                          'right back paw')

#: The promptpose_mm config matching each CLAMP backbone's published AP-10K
#: model (under the package's ``.mim/configs``, i.e. the repository's
#: ``configs``).
CLAMP_DEFAULT_CONFIGS: Dict[str, str] = {
    'resnet': PAPER_CONFIGS['rn50'],
    'vit': PAPER_CONFIGS['vit-b16'],
}

# Keys every CLAMP checkpoint has, and what tells the backbones apart.
_REQUIRED_KEYS = ('contexts', 'gamma', 'text_encoder.token_embedding.weight')
_BACKBONE_MARKERS = (('vit', 'backbone.class_embedding'),
                     ('resnet', 'backbone.attnpool.positional_embedding'))
# Keys of this plugin's own layout, for a helpful error.
_PLUGIN_MARKER = 'neck.text_encoder.context'
_VIT_POS = 'backbone.clip.positional_embedding'
_VIT_CLASS = 'backbone.clip.class_embedding'
_TEXT_POS = 'neck.text_encoder.clip.positional_embedding'
_CONTEXT = 'neck.text_encoder.context'
_LOGIT_SCALE = 'head.semantic_loss_module.logit_scale'
_MAX_LISTED = 20


class CLAMPConversionError(RuntimeError):
    """A file is not a CLAMP checkpoint or does not fit the target model."""


@dataclass
class ConversionResult:
    """What :func:`convert_clamp_state_dict` produced.

    Attributes:
        state_dict (dict[str, Tensor]): the weights in this plugin's layout.
        backbone (str): ``'resnet'`` or ``'vit'``.
        sources (dict[str, tuple[str]]): for each key of ``state_dict``,
            the CLAMP keys it was computed from.
        dropped (dict[str, str]): CLAMP keys left out on purpose, and why.
        unused (list[str]): CLAMP keys without a counterpart in the target
            model (left out; an error unless allowed).
        missing (list[str]): target keys the checkpoint does not provide
            (an error unless allowed).
        notes (list[str]): what was folded or synthesised.
        warnings (list[str]): differences no weight can express.
        text_positions (int, optional): how many text positions CLAMP
            kept, when the model has more.
        text_fill (str, optional): where the other positions came from,
            ``'clip'`` or ``'zeros'``.
        clamp_keypoint_names (list[str], optional): CLAMP's prompt words
            (``class_names``), None when unknown.
        keypoint_names (list[str], optional): the prompt words of the
            written config.
        config_path (str, optional): the config written next to the
            converted checkpoint.
    """
    state_dict: Dict[str, Tensor]
    backbone: str
    sources: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    text_positions: Optional[int] = None
    text_fill: Optional[str] = None
    clamp_keypoint_names: Optional[List[str]] = None
    keypoint_names: Optional[List[str]] = None
    config_path: Optional[str] = None


def _list(keys: Sequence[str], sep: str = ', ') -> str:
    """``keys`` for a message: the first few and how many more."""
    keys = list(keys)
    text = sep.join(keys[:_MAX_LISTED])
    if len(keys) > _MAX_LISTED:
        text += f' and {len(keys) - _MAX_LISTED} more'
    return text


def _shape(tensor: Tensor) -> Tuple[int, ...]:
    return tuple(tensor.shape)


def load_clamp_state_dict(path: str,
                          trust_source: bool = False
                          ) -> Tuple[Dict[str, Tensor], dict]:
    """Read a CLAMP checkpoint file.

    Args:
        path (str): a file written by CLAMP's MMCV runner (``{'meta',
            'state_dict', ...}``) or a bare state dict.
        trust_source (bool): unpickle arbitrary objects
            (``weights_only=False``); only for files from a trusted source.

    Returns:
        tuple[dict, dict]: the state dict (``module.`` prefixes removed)
        and the checkpoint's ``meta`` (empty when there is none).

    Raises:
        CLAMPConversionError: the file is missing or unreadable.
    """
    if not osp.isfile(path):
        raise CLAMPConversionError(f'CLAMP checkpoint not found: {path}')
    try:
        obj = torch.load(
            path, map_location='cpu', weights_only=not trust_source)
    except Exception as error:
        hint = '' if trust_source else (
            ' If the file comes from a source you trust and holds objects '
            'torch refuses to unpickle by default, pass --trust-source '
            '(trust_source=True).')
        raise CLAMPConversionError(
            f'cannot read {path} as a PyTorch checkpoint: {error}.{hint}'
        ) from error
    meta: dict = {}
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        meta = obj.get('meta') if isinstance(obj.get('meta'), dict) else {}
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not all(
            isinstance(key, str) and isinstance(value, Tensor)
            for key, value in obj.items()):
        raise CLAMPConversionError(
            f'{path} holds no state dict (a mapping of names to tensors, '
            "alone or under 'state_dict'); got {type(obj).__name__}")
    if obj and all(key.startswith('module.') for key in obj):
        obj = {key[len('module.'):]: value for key, value in obj.items()}
    return dict(obj), meta


def detect_clamp_backbone(state: Mapping[str, Tensor],
                          source: str = 'the checkpoint') -> str:
    """Check that ``state`` is a CLAMP state dict and tell its backbone.

    Args:
        state (dict[str, Tensor]): CLAMP keys.
        source (str): the file, for error messages.

    Returns:
        str: ``'vit'`` or ``'resnet'``.

    Raises:
        CLAMPConversionError: ``state`` is not in CLAMP's layout.
    """
    if _PLUGIN_MARKER in state:
        raise CLAMPConversionError(
            f'{source} is already in the promptpose_mm layout (it has '
            f'{_PLUGIN_MARKER!r}); use it directly with load_from, no '
            'conversion is needed')
    missing = [key for key in _REQUIRED_KEYS if key not in state]
    kinds = [kind for kind, marker in _BACKBONE_MARKERS if marker in state]
    if missing or len(kinds) != 1:
        needed = list(missing)
        if not kinds:
            needed.append(' or '.join(m for _, m in _BACKBONE_MARKERS))
        raise CLAMPConversionError(
            f'{source} is not a checkpoint of the published CLAMP code '
            f'(MMPose 0.x layout): it lacks {needed} (its first keys are '
            f'{sorted(state)[:6]}). Expected a CLAMP model saved by its '
            'MMCV runner, e.g. the ResNet-50 or ViT-B/16 AP-10K models')
    return kinds[0]


def rename_clamp_key(key: str) -> Optional[str]:
    """This plugin's name of CLAMP key ``key`` by :data:`CLAMP_KEY_RULES`.

    Returns:
        str | None: None when no rule matches (the dropped keys are handled
        separately).
    """
    for pattern, replacement in CLAMP_KEY_RULES:
        if re.fullmatch(pattern, key):
            return re.sub(f'^{pattern}$', replacement, key)
    return None


def _fold_class_embedding(result: ConversionResult) -> None:
    """Ours ``pos[0]`` = CLAMP ``pos[0] + class_embedding``."""
    state = result.state_dict
    if _VIT_POS not in state or _VIT_CLASS not in state:
        return
    pos, cls = state[_VIT_POS], state[_VIT_CLASS]
    if pos.dim() != 2 or cls.shape != pos.shape[1:]:
        raise CLAMPConversionError(
            f'backbone.positional_embedding {_shape(pos)} and '
            f'backbone.class_embedding {_shape(cls)} do not fit a ViT '
            '((1 + h*w, C) and (C,))')
    pos = pos.clone()
    pos[0] += cls
    state[_VIT_POS] = pos
    result.sources[_VIT_POS] += result.sources[_VIT_CLASS]
    result.notes.append(
        f'{_VIT_POS}[0]: + class_embedding (CLAMP adds the class embedding '
        'twice to the class token, this plugin once)')


def _fit_text_positions(result: ConversionResult, target: Mapping[str, Tensor],
                        clip_positions: Optional[Tensor]) -> None:
    """Extend CLAMP's truncated text positional embedding to ours."""
    state = result.state_dict
    if _TEXT_POS not in state or _TEXT_POS not in target:
        return
    pos, wanted = state[_TEXT_POS], target[_TEXT_POS]
    rows = pos.shape[0]
    if pos.dim() != 2 or rows >= wanted.shape[0] or (pos.shape[1]
                                                     != wanted.shape[1]):
        return  # equal, or a mismatch reported with the others
    if clip_positions is not None:
        if _shape(clip_positions) != _shape(wanted):
            raise CLAMPConversionError(
                f'the CLIP text positional embedding has shape '
                f'{_shape(clip_positions)}, but the model needs '
                f'{_shape(wanted)}: give the CLIP weights CLAMP started from')
        tail, result.text_fill = clip_positions[rows:].float(), 'clip'
    else:
        tail = pos.new_zeros(wanted.shape[0] - rows, pos.shape[1])
        result.text_fill = 'zeros'
    state[_TEXT_POS] = torch.cat([pos, tail])
    result.text_positions = rows
    origin = dict(clip='the CLIP weights', zeros='zeros')[result.text_fill]
    result.notes.append(
        f"{_TEXT_POS}: CLAMP's {rows} rows, then rows {rows}.."
        f'{wanted.shape[0] - 1} from {origin} (used only by prompts longer '
        f'than {rows} tokens)')


def convert_clamp_state_dict(state: Mapping[str, Tensor],
                             target: Mapping[str, Tensor],
                             allow_missing: bool = False,
                             allow_unused: bool = False,
                             clip_positions: Optional[Tensor] = None,
                             source: str = 'the checkpoint'
                             ) -> ConversionResult:
    """Turn a CLAMP state dict into this plugin's layout.

    Args:
        state (dict[str, Tensor]): CLAMP's weights (``backbone.*``,
            ``text_encoder.*``, ``contexts``, ...).
        target (dict[str, Tensor]): the state dict of the model to load the
            result into (for names and shapes), e.g. from
            :func:`build_target_model`.
        allow_missing (bool): leave out target keys the checkpoint lacks
            instead of raising.
        allow_unused (bool): leave out CLAMP keys without a counterpart
            instead of raising.
        clip_positions (Tensor, optional): CLIP's full text positional
            embedding ``(77, W)`` for the rows CLAMP dropped; zeros if None.
        source (str): the file, for messages.

    Returns:
        ConversionResult: float32 weights and a report.

    Raises:
        CLAMPConversionError: ``state`` is not CLAMP's layout, a shape
            differs from the target's (naming the key and both shapes), or
            keys are missing/unused and not allowed.
    """
    backbone = detect_clamp_backbone(state, source)
    result = ConversionResult(state_dict={}, backbone=backbone)
    for key, value in state.items():
        value = value.float() if value.is_floating_point() else value
        if key in CLAMP_UNUSED_KEYS:
            result.dropped[key] = CLAMP_UNUSED_KEYS[key]
        elif (new_key := rename_clamp_key(key)) is not None:
            result.state_dict[new_key] = value
            result.sources[new_key] = (key, )
        else:
            result.unused.append(key)

    context = result.state_dict.get(_CONTEXT)
    if context is not None and context.dim() == 3 and context.shape[0] == 1:
        result.state_dict[_CONTEXT] = context[0]
    if backbone == 'vit':
        _fold_class_embedding(result)
    _fit_text_positions(result, target, clip_positions)
    for key, why in CLAMP_DERIVED_KEYS.items():
        if key in target and key not in result.state_dict:
            result.state_dict[key] = target[key].detach().clone()
            result.sources[key] = ()
            result.notes.append(f'{key}: {why}')

    mismatched = []
    for key in list(result.state_dict):
        if key not in target:
            result.unused += result.sources.pop(key) or (key, )
            del result.state_dict[key]
        elif _shape(result.state_dict[key]) != _shape(target[key]):
            origin = ', '.join(result.sources[key]) or 'synthesised'
            mismatched.append(f'{key} (from {origin}): checkpoint '
                              f'{_shape(result.state_dict[key])} vs model '
                              f'{_shape(target[key])}')
    result.unused = sorted(set(result.unused))
    result.missing = sorted(set(target) - set(result.state_dict))

    problems = []
    if mismatched:
        problems.append(f'{len(mismatched)} shape mismatches: ' +
                        _list(mismatched, '; '))
        problems += [
            hint for prefix, hint in CLAMP_MISMATCH_HINTS.items() if any(
                line.startswith(prefix) for line in mismatched)
        ]
    if result.missing and not allow_missing:
        problems.append(f'{len(result.missing)} model keys the checkpoint '
                        f'does not provide: {_list(result.missing)} '
                        '(--allow-missing leaves them out)')
    if result.unused and not allow_unused:
        problems.append(f'{len(result.unused)} checkpoint keys without a '
                        f'counterpart in the model: {_list(result.unused)} '
                        '(--allow-unused drops them)')
    if problems:
        raise CLAMPConversionError(
            f'{source}: the CLAMP {backbone} checkpoint does not fit the '
            'target model: ' + ' | '.join(problems) + '. Check that the '
            'config describes the same architecture as the CLAMP model')
    return result


def clamp_keypoint_names_from_meta(meta: Mapping) -> Optional[List[str]]:
    """CLAMP's prompt words from the config text in a checkpoint's meta.

    MMPose 0.x's ``tools/train.py`` saves ``meta['config']`` (the config's
    ``pretty_text``); CLAMP's model config holds ``class_names=[...]``. The
    text is parsed, never executed.

    Args:
        meta (dict): the CLAMP checkpoint's ``meta``.

    Returns:
        list[str] | None: the ``class_names``, None when there are none.
    """
    text = meta.get('config') if isinstance(meta, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        value = None
        if isinstance(node, ast.keyword) and node.arg == 'class_names':
            value = node.value
        elif isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == 'class_names'
                for target in node.targets):
            value = node.value
        if value is None:
            continue
        try:
            names = ast.literal_eval(value)
        except ValueError:
            continue
        if isinstance(names, (list, tuple)) and names and all(
                isinstance(name, str) and name.strip() for name in names):
            return [name.strip() for name in names]
    return None


def clamp_keypoint_names(meta: Mapping, num_keypoints: int
                         ) -> Tuple[Optional[List[str]], str]:
    """CLAMP's prompt words for a checkpoint with ``num_keypoints``.

    From the checkpoint's ``meta['config']``
    (:func:`clamp_keypoint_names_from_meta`), else, for 17 keypoints,
    CLAMP's AP-10K ``class_names`` (the only keypoint set its configs
    name).

    Returns:
        tuple[list[str] | None, str]: the words (None when unknown) and
        where they came from.
    """
    names = clamp_keypoint_names_from_meta(meta)
    if names is not None:
        return names, "the CLAMP config in the checkpoint's meta"
    if num_keypoints == len(CLAMP_AP10K_KEYPOINT_NAMES):
        return list(CLAMP_AP10K_KEYPOINT_NAMES), "CLAMP's AP-10K configs"
    return None, ''


def default_clamp_config(backbone: str) -> str:
    """The config file of :data:`CLAMP_DEFAULT_CONFIGS` for ``backbone``.
    """
    try:
        return installed_config(CLAMP_DEFAULT_CONFIGS[backbone])
    except FileNotFoundError as error:
        raise CLAMPConversionError(
            f'the default config for a CLAMP {backbone} checkpoint: {error} '
            '(--config)') from None


def load_target_config(config: Union[str, Config],
                       cfg_options: Optional[dict] = None) -> Config:
    """Read the promptpose_mm config a CLAMP checkpoint is converted for.

    Args:
        config (str | Config): a promptpose_mm config (file or object, which
            is copied).
        cfg_options (dict, optional): overrides merged into it.

    Returns:
        Config: the config with the overrides, the model's keypoints filled
        in from its dataset (:func:`promptpose_mm.apis.load_config`).
    """
    from promptpose_mm.apis import load_config
    if isinstance(config, str) and not osp.isfile(config):
        raise CLAMPConversionError(f'config file not found: {config}')
    return load_config(config, cfg_options)


def build_target_model(config: Union[str, Config],
                       cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the plugin model a CLAMP checkpoint is converted for.

    Nothing is loaded or downloaded (every ``init_cfg`` is dropped); only
    the names and shapes of its state dict are used.

    Args:
        config (str | Config): a promptpose_mm model config.
        cfg_options (dict, optional): overrides merged into it.

    Returns:
        nn.Module: the ``TopdownPoseEstimator``, random weights.
    """
    from promptpose_mm.apis import build_random_model
    return build_random_model(load_target_config(config, cfg_options))


def write_clamp_config(cfg: Config, path: str, checkpoint: str,
                       keypoint_names: Optional[Sequence[str]],
                       source: str) -> None:
    """Write the config that runs a converted CLAMP checkpoint.

    The whole ``cfg`` (bases resolved, so the file stands alone) with
    ``model.neck.keypoint_names`` set to ``keypoint_names`` (when given)
    and ``load_from`` set to ``checkpoint``.

    Args:
        cfg (Config): the target config (not modified).
        path (str): the ``.py`` file to write.
        checkpoint (str): the converted checkpoint.
        keypoint_names (Sequence[str], optional): the prompt words.
        source (str): the CLAMP checkpoint, for the header.
    """
    cfg = copy.deepcopy(cfg)
    if keypoint_names is not None:
        cfg.model.neck.keypoint_names = list(keypoint_names)
    cfg.load_from = osp.abspath(checkpoint)
    name = osp.basename(checkpoint)
    origin = cfg.filename or 'the target config'
    header = '\n'.join([
        f'# Written by promptpose_mm.converters.clamp for {name},',
        f'# converted from the CLAMP checkpoint {osp.abspath(source)}:',
        f"# {origin} with CLAMP's prompt words",
        '# (model.neck.keypoint_names) and load_from. Evaluate with',
        f'#   mim test promptpose_mm {osp.basename(path)} --checkpoint {name}',
    ]) + '\n'
    with open(path, 'w', encoding='utf-8') as file:
        file.write(header + cfg.pretty_text)


def check_target_backbone(model: nn.Module,
                          backbone: str,
                          config: str = 'the config') -> None:
    """Raise unless ``model``'s backbone is of CLAMP's kind ``backbone``."""
    from promptpose_mm.models.backbones import (CLIPResNet,
                                                CLIPVisionTransformer)
    wanted = dict(resnet=CLIPResNet, vit=CLIPVisionTransformer)[backbone]
    actual = getattr(model, 'backbone', None)
    if not isinstance(actual, wanted):
        raise CLAMPConversionError(
            f'the checkpoint has a CLAMP {backbone} backbone, but {config} '
            f'builds {type(actual).__name__}; use a config with '
            f'{wanted.__name__} (e.g. the ResNet-50 or ViT-B/16 PromptPose '
            'config)')


def clamp_compatibility_warnings(model: nn.Module,
                                 result: ConversionResult) -> List[str]:
    """Differences from CLAMP's outputs that no weight can express.

    Args:
        model (nn.Module): the target model.
        result (ConversionResult): the conversion.

    Returns:
        list[str]: one message per difference found.
    """
    messages = []
    neck = getattr(model, 'neck', None)
    prompt_encoder = getattr(neck, 'prompt_encoder', None)
    act = block_mlp_activation(getattr(prompt_encoder, 'block', None))
    if act is not None and not is_quick_gelu(act):
        messages.append(
            f"the prompt encoder's MLP uses {type(act).__name__} where "
            "CLAMP's uses QuickGELU: prompts, score maps and heatmaps "
            "differ slightly from CLAMP's")
    names = list(getattr(neck, 'keypoint_names', ()))
    clamp_names = result.clamp_keypoint_names
    if clamp_names is not None and names and names != list(clamp_names):
        diff = [
            f'{ours!r} vs {theirs!r}'
            for ours, theirs in zip(names, clamp_names) if ours != theirs
        ]
        messages.append(
            "the prompts differ from CLAMP's class_names ("
            f'{"; ".join(diff)}); to reproduce CLAMP set '
            f'model.neck.keypoint_names={list(clamp_names)} or leave it '
            "unset (the converter then writes CLAMP's)")
    scale = result.state_dict.get(_LOGIT_SCALE)
    max_scale = getattr(
        getattr(getattr(model, 'head', None), 'semantic_loss_module', None),
        'max_logit_scale', None)
    if scale is not None and max_scale is not None and (float(scale)
                                                        > math.log(max_scale)):
        messages.append(
            f'logit_scale exp({float(scale):.3f}) exceeds the clamp '
            f"{max_scale} of this plugin's semantic loss (training only)")
    text_encoder = getattr(neck, 'text_encoder', None)
    length = getattr(text_encoder, 'prompt_length', None)
    rows = result.text_positions
    if (length is not None and rows is not None and length > rows
            and result.text_fill == 'zeros'):
        messages.append(
            f"the model's prompts have {length} tokens but CLAMP kept "
            f'{rows} text positions; the others are zeros: pass the CLIP '
            'weights CLAMP started from (--clip-weights)')
    return messages


def _plain(value) -> bool:
    """Whether ``value`` is a plain type ``weights_only`` loading accepts."""
    return isinstance(value, (str, int, float, bool)) or value is None


def convert_clamp_checkpoint(src: str,
                             dst: str,
                             config: Union[str, Config, None] = None,
                             cfg_options: Optional[dict] = None,
                             allow_missing: bool = False,
                             allow_unused: bool = False,
                             clip_weights: Optional[str] = None,
                             trust_source: bool = False,
                             out_config: Optional[str] = None
                             ) -> ConversionResult:
    """Convert the CLAMP checkpoint ``src`` and save it as ``dst``.

    ``dst`` is an MMEngine checkpoint ``{'meta': ..., 'state_dict': ...}``
    (plain types and tensors only, so ``torch.load(weights_only=True)``,
    ``load_from`` and ``mim test`` read it). Next to it goes a config
    (``out_config``, by default ``dst`` with the suffix ``.py``): the
    target config with CLAMP's prompt words as ``model.neck.keypoint_names``
    (see :func:`clamp_keypoint_names`; an explicit ``keypoint_names`` in
    the config or ``cfg_options`` is kept, with a warning where it differs)
    and ``load_from=dst``, so that ``mim test promptpose_mm OUT_CONFIG
    --checkpoint DST``, :func:`mmpose.apis.init_model` and the inferencers
    compute CLAMP's outputs. The meta records the words
    (``keypoint_names``) and the config (``written_config``).

    Args:
        src (str): the CLAMP checkpoint.
        dst (str): where to write the converted one.
        config (str | Config, optional): the promptpose_mm config of the
            same architecture; by default the one of
            :data:`CLAMP_DEFAULT_CONFIGS` for the detected backbone.
        cfg_options (dict, optional): overrides of ``config``.
        allow_missing (bool): see :func:`convert_clamp_state_dict`.
        allow_unused (bool): see :func:`convert_clamp_state_dict`.
        clip_weights (str, optional): the CLIP weights CLAMP started from,
            for the text positions CLAMP dropped (see
            :func:`promptpose_mm.models.clip.load_clip_state_dict`).
        trust_source (bool): see :func:`load_clamp_state_dict`.
        out_config (str, optional): where to write the config.

    Returns:
        ConversionResult: the converted weights and the report.
    """
    if out_config is None:
        out_config = osp.splitext(dst)[0] + '.py'
    if not out_config.endswith('.py'):
        raise CLAMPConversionError(
            f'the output config {out_config} must end with .py')
    paths = {osp.abspath(path) for path in (src, dst, out_config)}
    if len(paths) < 3:
        raise CLAMPConversionError(
            f'the outputs {dst} and {out_config} would overwrite each other '
            'or the CLAMP checkpoint; choose other paths')
    for path in (dst, out_config):
        out_dir = osp.dirname(osp.abspath(path))
        if not osp.isdir(out_dir):
            raise CLAMPConversionError(
                f'output folder {out_dir} does not exist (for {path})')
    logger.info('reading %s', src)
    state, src_meta = load_clamp_state_dict(src, trust_source)
    backbone = detect_clamp_backbone(state, src)
    if config is None:
        config = default_clamp_config(backbone)
    config_name = config if isinstance(config, str) else (config.filename
                                                          or 'the config')
    logger.info('CLAMP %s backbone, %d tensors; building %s', backbone,
                len(state), config_name)
    cfg = load_target_config(config, cfg_options)
    model = build_target_model(cfg)
    check_target_backbone(model, backbone, config_name)
    if not hasattr(getattr(model, 'neck', None), 'keypoint_names'):
        raise CLAMPConversionError(
            f'{config_name} builds no PromptPoseNeck (model.neck), which a '
            'CLAMP checkpoint needs; use a PromptPose config')
    clamp_names, names_origin = clamp_keypoint_names(src_meta,
                                                     model.neck.num_keypoints)
    if clamp_names is not None and (len(clamp_names)
                                    != model.neck.num_keypoints):
        raise CLAMPConversionError(
            f'{src}: CLAMP names {len(clamp_names)} keypoints '
            f'({names_origin}: {clamp_names}) but {config_name} has '
            f'{model.neck.num_keypoints}; use a config of the same dataset')
    explicit = cfg.model.neck.get('keypoint_names') is not None
    names = list(model.neck.keypoint_names)
    if clamp_names is not None and not explicit and names != clamp_names:
        # the model of the written config: CLAMP's words
        renamed = [(ours, theirs) for ours, theirs in zip(names, clamp_names)
                   if ours != theirs]
        names = clamp_names
        named = copy.deepcopy(cfg)
        named.model.neck.keypoint_names = names
        model = build_target_model(named)
    else:
        renamed = []
    clip_positions = None
    if clip_weights is not None:
        from promptpose_mm.models.clip import (CLIPWeightsError,
                                               load_clip_state_dict)
        try:
            clip_positions = load_clip_state_dict(clip_weights).get(
                'positional_embedding')
        except CLIPWeightsError as error:
            raise CLAMPConversionError(
                f'--clip-weights {clip_weights}: {error}') from error
    logger.info('mapping the keys')
    result = convert_clamp_state_dict(state, model.state_dict(), allow_missing,
                                      allow_unused, clip_positions, src)
    result.clamp_keypoint_names = clamp_names
    result.keypoint_names = names
    result.config_path = out_config
    if renamed:
        result.notes.append(
            f"model.neck.keypoint_names of {out_config}: CLAMP's words, from "
            f'{names_origin} (' + '; '.join(f'{theirs!r} for {ours!r}'
                                            for ours, theirs in renamed) + ')')
    result.warnings = clamp_compatibility_warnings(model, result)
    if clamp_names is None and not explicit:
        result.warnings.append(
            f"CLAMP's prompt words are unknown ({src} has no CLAMP config "
            "with class_names in its meta, and the model's "
            f"{len(names)} keypoints are not AP-10K's 17): {out_config} "
            f"uses the config's words {names}; set the CLAMP config's "
            'class_names with --cfg-options model.neck.keypoint_names=...')
    for note in result.notes:
        logger.info('adapted: %s', note)
    for key, why in result.dropped.items():
        logger.info('dropped %s: %s', key, why)
    for kind, keys in (('missing', result.missing), ('unused', result.unused)):
        if keys:
            logger.warning('%d %s keys left out: %s', len(keys), kind,
                           _list(keys))
    for message in result.warnings:
        logger.warning('%s', message)

    meta = dict(
        converted_from=osp.abspath(src),
        converter='promptpose_mm.converters.clamp',
        source_layout='CLAMP (MMPose 0.x, github.com/xuzhang1199/CLAMP, '
        'layout of commit 9ed65d7)',
        clamp_backbone=backbone,
        config=config_name,
        written_config=osp.abspath(out_config),
        keypoint_names=list(names),
        promptpose_mm_version=__version__,
        folded=list(result.notes),
        dropped_keys=sorted(result.dropped),
        missing_keys=list(result.missing),
        unused_keys=list(result.unused),
        warnings=list(result.warnings),
        source_meta={
            key: value
            for key, value in src_meta.items() if _plain(value)
        })
    torch.save(dict(meta=meta, state_dict=result.state_dict), dst)
    logger.info('saved %d tensors to %s', len(result.state_dict), dst)
    write_clamp_config(cfg, out_config, dst, names, src)
    logger.info('wrote %s (keypoint names %s)', out_config, names)
    return result
