"""Where a training step's time goes: two models, phase by phase and op by op.

``model.train_step`` is data preprocessing, forward with the losses,
backward, the optimizer step and ``zero_grad``. :func:`run_phases` times
each of these phases separately for two models (interleaved, A, B, A, B,
...), counts the multiply-accumulates of the forward and of the backward
(the optimizer's element-wise update has none: its cost follows the number
of trainable parameters instead), and profiles one step of each with
``torch.profiler`` to list the operators whose own time differs most.
With it, the whole-step difference of PromptPose and SimpleBaseline is
split into what follows the arithmetic (forward, backward) and what does
not (optimizer over more parameters, element-wise work, overheads).
"""
import contextlib
import time
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np
from mmengine.config import Config

from benchmarks.arithmetic import mac_counter
from benchmarks.speed import (_Bench, _synchronize, build_benches,
                              markdown_table)

PREPROCESS = 'data preprocessor'
FORWARD = 'forward + losses'
BACKWARD = 'backward'
OPTIMIZER = 'optimizer step'
ZERO_GRAD = 'zero_grad'
PHASES = (PREPROCESS, FORWARD, BACKWARD, OPTIMIZER, ZERO_GRAD)


class PhaseResult(NamedTuple):
    """What :func:`run_phases` measured.

    Attributes:
        names (tuple[str, str]): the two models (A, B).
        seconds (dict): ``seconds[name][phase]``: one value per repeat.
        gmacs (dict): ``gmacs[name][FORWARD | BACKWARD]`` per image.
        trainable (dict): ``trainable[name]``: parameters the optimizer
            updates, in millions.
        ops (dict): ``ops[name][operator]``: its own (self) CPU time in ms
            per step, from ``torch.profiler``.
        batch_size (int): images per step.
    """
    names: tuple
    seconds: Dict[str, Dict[str, List[float]]]
    gmacs: Dict[str, Dict[str, float]]
    trainable: Dict[str, float]
    ops: Dict[str, Dict[str, float]]
    batch_size: int


def train_step_phases(bench: _Bench,
                      device: str = 'cpu',
                      counters: Optional[dict] = None) -> Dict[str, float]:
    """Run one training step as ``model.train_step`` runs it (MMEngine's
    ``BaseModel.train_step`` with ``OptimWrapper.update_params``), timing
    each phase.

    Args:
        bench (_Bench): the model, its optimizer wrapper and its batch.
        device (str): synchronised between phases when CUDA.
        counters (dict, optional): ``{FORWARD: counter, BACKWARD: counter}``
            (:func:`~benchmarks.arithmetic.mac_counter`) to
            count those phases' arithmetic.

    Returns:
        dict: seconds per phase of :data:`PHASES`.
    """
    model, wrapper = bench.model, bench.optim_wrapper
    counters = counters or {}
    model.train()
    seconds = {}
    _synchronize(device)
    start = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal start
        _synchronize(device)
        now = time.perf_counter()
        seconds[phase] = now - start
        start = now

    with wrapper.optim_context(model):
        data = model.data_preprocessor(bench.batch, True)
        lap(PREPROCESS)
        with counters.get(FORWARD, contextlib.nullcontext()):
            losses = model._run_forward(data, mode='loss')
            loss, _ = model.parse_losses(losses)
            loss = wrapper.scale_loss(loss)
        lap(FORWARD)
    with counters.get(BACKWARD, contextlib.nullcontext()):
        wrapper.backward(loss)
    lap(BACKWARD)
    wrapper.step()
    lap(OPTIMIZER)
    wrapper.zero_grad()
    lap(ZERO_GRAD)
    bench.trained = True
    return seconds


def step_gmacs(bench: _Bench, device: str = 'cpu') -> Dict[str, float]:
    """Multiply-accumulates per image of the forward and of the backward of
    one training step (:func:`.arithmetic.mac_counter`)."""
    counters = {phase: mac_counter() for phase in (FORWARD, BACKWARD)}
    train_step_phases(bench, device, counters)
    images = len(bench.batch['inputs'])
    return {
        phase: counter.get_total_flops() / 2e9 / images
        for phase, counter in counters.items()
    }


def profile_ops(bench: _Bench,
                steps: int = 1,
                device: str = 'cpu') -> Dict[str, float]:
    """Own CPU time of every operator in ms per training step, from
    ``torch.profiler`` over ``steps`` steps."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train_step_phases(bench, device)
    return {
        event.key: event.self_cpu_time_total / 1e3 / steps
        for event in prof.key_averages()
    }


def run_phases(configs: Dict[str, Config],
               batch_size: int = 16,
               repeats: int = 5,
               warmup: int = 1,
               profile_steps: int = 1,
               device: str = 'cpu',
               progress: bool = True,
               seed: int = 0) -> PhaseResult:
    """Time two models' training steps phase by phase, interleaved.

    Args:
        configs (dict[str, Config]): exactly two named configs (A first).
        batch_size (int): images per step.
        repeats (int): timed steps per model (medians in the table).
        warmup (int): untimed steps per model first.
        profile_steps (int): steps per model under ``torch.profiler``
            (0: no operator table).
        device (str): ``'cpu'`` or ``'cuda'``.
        progress (bool): a tqdm bar.
        seed (int): seed of the weights and of the synthetic batch.

    Returns:
        PhaseResult: the measurements.
    """
    if repeats < 1 or warmup < 0 or profile_steps < 0:
        raise ValueError('repeats must be >= 1, warmup and profile_steps '
                         f'>= 0; got {repeats}, {warmup}, {profile_steps}')
    from tqdm import tqdm
    names = tuple(configs)
    benches = build_benches(configs, batch_size, device, seed)
    bar = tqdm(
        total=2 * (warmup + repeats + profile_steps + 1),
        desc='training phases',
        unit='step',
        disable=not progress)
    gmacs = {}
    for name, bench in benches.items():
        gmacs[name] = step_gmacs(bench, device)
        bar.update()
        for _ in range(warmup):
            train_step_phases(bench, device)
            bar.update()
    seconds = {name: {phase: [] for phase in PHASES} for name in names}
    for _ in range(repeats):
        for name, bench in benches.items():
            for phase, value in train_step_phases(bench, device).items():
                seconds[name][phase].append(value)
            bar.update()
    ops = {}
    if profile_steps:
        for name, bench in benches.items():
            ops[name] = profile_ops(bench, profile_steps, device)
            bar.update(profile_steps)
    bar.close()
    trainable = {
        name: bench.num_parameters(True) / 1e6
        for name, bench in benches.items()
    }
    return PhaseResult(names, seconds, gmacs, trainable, ops, batch_size)


def format_phases(result: PhaseResult, top: int = 15) -> str:
    """Markdown: the phases (ms per step, A - B, ratio, and the arithmetic
    ratio of the forward and the backward), then the ``top`` operators
    whose own time differs most between A and B."""
    first, second = result.names
    median = {
        name: {
            phase: float(np.median(values))
            for phase, values in phases.items()
        }
        for name, phases in result.seconds.items()
    }
    for name in result.names:
        median[name]['whole step'] = sum(median[name].values())
    gmacs = {
        name: dict(values, **{'whole step': sum(values.values())})
        for name, values in result.gmacs.items()
    }
    rows = []
    for phase in PHASES + ('whole step', ):
        a, b = median[first][phase], median[second][phase]
        macs = ''
        if phase in gmacs[first] and gmacs[second].get(phase):
            macs = f'{gmacs[first][phase] / gmacs[second][phase]:.3f}'
        elif phase == OPTIMIZER:
            macs = (
                f'params {result.trainable[first]:.1f} M / '
                f'{result.trainable[second]:.1f} M = '
                f'{result.trainable[first] / result.trainable[second]:.3f}')
        rows.append([
            phase, f'{a * 1e3:.1f}', f'{b * 1e3:.1f}', f'{(a - b) * 1e3:.1f}',
            f'{a / b:.3f}' if b else '-', macs
        ])
    header = [
        'phase', f'{first} ms', f'{second} ms', 'difference ms', 'time ratio',
        'arithmetic ratio'
    ]
    repeats = len(result.seconds[first][PHASES[0]])
    lines = markdown_table(header, rows) + [
        '',
        f'median of {repeats} interleaved steps, batch {result.batch_size}; '
        'arithmetic: multiply-accumulates (mac_counter), '
        f'{first} {gmacs[first]["whole step"]:.2f} and {second} '
        f'{gmacs[second]["whole step"]:.2f} GMAC per image'
    ]
    if result.ops:
        lines += ['', *format_ops(result.ops, result.names, top)]
    return '\n'.join(lines)


def format_ops(ops: Dict[str, Dict[str, float]], names: Sequence[str],
               top: int) -> List[str]:
    """The ``top`` operators by the difference of their own time."""
    first, second = names
    keys = set(ops[first]) | set(ops[second])
    diffs = sorted(
        keys,
        key=lambda k: -abs(ops[first].get(k, 0.) - ops[second].get(k, 0.)))
    rows = [[
        key, f'{ops[first].get(key, 0.):.1f}',
        f'{ops[second].get(key, 0.):.1f}',
        f'{ops[first].get(key, 0.) - ops[second].get(key, 0.):.1f}'
    ] for key in diffs[:top]]
    total = [sum(ops[name].values()) for name in names]
    rows.append([
        'all operators', f'{total[0]:.1f}', f'{total[1]:.1f}',
        f'{total[0] - total[1]:.1f}'
    ])
    header = ['operator (own time)', f'{first} ms', f'{second} ms', 'A - B ms']
    return markdown_table(header, rows) + [
        '', 'torch.profiler, CPU self time per training step'
    ]
