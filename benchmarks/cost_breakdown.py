"""Where PromptPose's extra time goes: its own parts, timed one by one.

A PromptPose model is a SimpleBaseline model (backbone levels, deconv
keypoint head) plus parts SimpleBaseline does not have. :func:`time_parts`
times each of those alone, on inputs taken from a real forward pass of
the same batch, so the table says how much of the measured difference each
part explains:

* the backbone's projection into CLIP space (ResNet: CLIP's attention pool
  over every location; ViT: ``ln_post`` and the projection);
* the prompts: text encoder and prompt encoder (in eval mode a cache hit);
* the context decoder and the score map;
* the pixel branch with its loss (training only);
* the semantic-level loss (training only).

Inference times a part's forward without gradient (eval mode); training
times its forward and the backward of the sum of its outputs (train mode),
which costs what the real backward costs. What the parts do not explain
(the score map's extra input channels of the keypoint head, the optimizer
on the extra parameters) is the difference of the whole steps minus the
parts.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from benchmarks.speed import markdown_table, timed
from promptpose_mm.models.heads import PromptPoseHead
from promptpose_mm.models.necks import PromptPoseNeck
from promptpose_mm.models.structures import PromptPoseFeatures

Step = Callable[[], object]


class PartTime(NamedTuple):
    """Median seconds per batch of one part (``None``: not run)."""
    name: str
    inference: Optional[float]
    training: Optional[float]


def _with_grad(value):
    """A leaf copy that requires grad (tensors; tuples element-wise)."""
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.detach().requires_grad_()
    if isinstance(value, tuple):
        return tuple(_with_grad(item) for item in value)
    return value


def _backward(outputs) -> None:
    """Backpropagate the sum of every tensor in ``outputs``."""
    if isinstance(outputs, Tensor):
        outputs = (outputs, )
    total = sum(out.sum() for out in outputs
                if isinstance(out, Tensor) and out.requires_grad)
    total.backward()


def _median_seconds(step: Step, repeats: int, warmup: int,
                    device: str) -> float:
    for _ in range(warmup):
        step()
    return float(np.median([timed(step, 1, device) for _ in range(repeats)]))


def part_steps(model: torch.nn.Module,
               batch: dict) -> Dict[str, Dict[str, Step]]:
    """The steps that run each PromptPose part alone on ``batch``.

    Args:
        model (nn.Module): a top-down pose estimator with a CLIP backbone
            (``with_clip_space=True``), :class:`PromptPoseNeck` and
            :class:`PromptPoseHead`.
        batch (dict): ``inputs`` and ``data_samples`` as a data loader gives
            them (see :func:`synthetic_batch`).

    Returns:
        dict: ``{part: {'inference': step, 'training': step}}``; a part
        that does not run at inference has no ``'inference'`` step. The
        caller sets the model's mode: eval for ``'inference'`` (run under
        ``torch.no_grad``), train for ``'training'``.

    Raises:
        TypeError: the model is not a PromptPose model.
    """
    backbone, neck, head = (
        getattr(model, name, None) for name in ('backbone', 'neck', 'head'))
    if not (isinstance(neck, PromptPoseNeck)
            and isinstance(head, PromptPoseHead)
            and getattr(backbone, 'with_clip_space', False)):
        raise TypeError(
            'the cost breakdown needs a PromptPose model (a CLIP backbone '
            'with with_clip_space=True, PromptPoseNeck, PromptPoseHead); got '
            f'{type(backbone).__name__}, {type(neck).__name__}, '
            f'{type(head).__name__}')
    model.train()
    with torch.no_grad():
        data = model.data_preprocessor(batch, True)
        inputs, samples = data['inputs'], data['data_samples']
        _, state = backbone._forward_levels(inputs)
        outs = backbone(inputs)
        feats = neck(outs)
        prompts = neck.prompts()
    dense, global_feat = outs[-2:]

    def training(step: Step) -> Step:
        return lambda: _backward(step())

    def head_inputs() -> PromptPoseFeatures:
        score_map, dense, text = _with_grad(
            (feats.score_map, feats.dense, feats.text))
        return feats._replace(score_map=score_map, dense=dense, text=text)

    steps = {
        'CLIP-space projection':
        dict(
            inference=lambda: backbone._forward_clip_space(state),
            training=training(
                lambda: backbone._forward_clip_space(_with_grad(state)))),
        'prompts (text + prompt encoder)':
        dict(inference=neck.prompts, training=training(neck.prompts)),
        'context decoder + score map':
        dict(
            inference=lambda: neck.score(prompts, dense, global_feat),
            training=training(lambda: neck.score(*_with_grad(
                (prompts, dense, global_feat))))),
    }
    if head.pixel_loss_module is not None:
        steps['pixel branch + loss'] = dict(
            training=training(lambda: head.loss_pixel(head_inputs(), samples)))
    if head.semantic_loss_module is not None:
        steps['semantic loss'] = dict(
            training=training(
                lambda: head.loss_semantic(head_inputs(), samples)))
    return steps


def time_parts(model: torch.nn.Module,
               batch: dict,
               repeats: int = 5,
               warmup: int = 1,
               device: str = 'cpu') -> List[PartTime]:
    """Median seconds per batch of every PromptPose part (see
    :func:`part_steps`), at inference and in training.

    Returns:
        list[PartTime]: one per part, in forward order.
    """
    steps = part_steps(model, batch)
    times = {name: {} for name in steps}
    for kind in ('inference', 'training'):
        model.train(kind == 'training')
        with torch.set_grad_enabled(kind == 'training'):
            for name, kinds in steps.items():
                if kind in kinds:
                    times[name][kind] = _median_seconds(
                        kinds[kind], repeats, warmup, device)
    model.zero_grad(set_to_none=True)
    return [
        PartTime(name, found.get('inference'), found.get('training'))
        for name, found in times.items()
    ]


def format_parts(parts: Sequence[PartTime], baseline: Dict[str, float],
                 difference: Dict[str, float]) -> str:
    """The parts as a Markdown table, against the baseline's whole step.

    Args:
        parts (Sequence[PartTime]): from :func:`time_parts`.
        baseline (dict): SimpleBaseline's seconds per batch, keys
            ``'inference'`` (without flip test) and ``'training'``.
        difference (dict): PromptPose's minus SimpleBaseline's seconds per
            batch, same keys: the parts explain most of it, the last row
            shows the rest.

    Returns:
        str: one row per part, then the sum, the measured difference and
        the rest; times in ms per batch and in % of SimpleBaseline's step.
    """

    def cells(seconds: Optional[float], kind: str) -> List[str]:
        if seconds is None:
            return ['-', '-']
        return [
            f'{seconds * 1e3:.4g}', f'{100 * seconds / baseline[kind]:.1f}'
        ]

    totals = {
        kind: sum(getattr(part, kind) or 0. for part in parts)
        for kind in ('inference', 'training')
    }
    rows = [[part.name] + cells(part.inference, 'inference') +
            cells(part.training, 'training') for part in parts]
    for name, values in (
        ('sum of the parts', totals),
        ('measured difference of the whole steps', difference),
        ('rest (difference - parts)', {
            kind: difference[kind] - totals[kind]
            for kind in totals
        }),
    ):
        rows.append([name] + cells(values['inference'], 'inference') +
                    cells(values['training'], 'training'))
    header = [
        'PromptPose part', 'inference ms', '% of SB inference', 'training ms',
        '% of SB training'
    ]
    note = ('ms per batch (median); SB: SimpleBaseline, inference without '
            'flip test; training: forward + backward of the part alone')
    return '\n'.join(markdown_table(header, rows) + ['', note])
