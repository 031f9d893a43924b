"""Speed and memory of two pose models measured side by side.

:func:`run_benchmark` builds each config's model with random weights (no
checkpoint, no download), feeds it a synthetic batch of the config's input
size whose targets come from the config's own MMPose codec, and measures,
interleaved model by model (A, B, A, B, ...) after a warm-up:

* training throughput: ``model.train_step`` (data preprocessor, forward,
  losses, backward, optimizer step) with the config's optimizer;
* inference throughput: ``model.test_step`` (MMPose's predict path with
  decoding), with the flip test and without;
* peak memory of a training step and of a flip-test inference step;
* once, before the timing: the arithmetic of a training step and of an
  inference step without flip test, in multiply-accumulates per image
  (the same on every machine, see :meth:`_Bench.gmacs_per_image`).

Peak memory is the model's resident state, counted from its tensors
(parameters and buffers, plus the optimizer state for training), plus the
most memory the step needed on top of what was in use just before it:

* CUDA: ``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` at
  the step's start (tensors only, not the caching allocator's reserve);
* CPU (Linux): the process's peak resident set size during the step
  (``VmHWM`` in ``/proc/self/status``, reset through
  ``/proc/self/clear_refs`` after ``gc.collect`` and glibc's
  ``malloc_trim``) minus its resident size at the step's start. It counts
  every allocation of the process (torch's and the allocator's overhead),
  at page granularity. Where the peak cannot be reset, the step's increase
  of ``getrusage``'s ``ru_maxrss`` is used, which is only a lower bound.
"""
import contextlib
import gc
import logging
import os
import platform
import resource
import time
from typing import Callable, Dict, Iterator, List, NamedTuple, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.structures import InstanceData, PixelData
from mmpose.apis.inference import dataset_meta_from_config
from mmpose.registry import KEYPOINT_CODECS
from mmpose.structures import PoseDataSample

from benchmarks.arithmetic import mac_counter
from promptpose_mm.apis.builder import build_random_model
from promptpose_mm.utils import cpu_memory_mode, release_free_cpu_memory
from promptpose_mm.utils.precision import cpu_flags
from promptpose_mm.utils.tables import markdown_table

MiB = 2.0**20

TRAIN_THROUGHPUT = 'train throughput (img/s)'
FLIP_THROUGHPUT = 'inference, flip test (img/s)'
PLAIN_THROUGHPUT = 'inference, no flip (img/s)'
TRAIN_MEMORY = 'train peak memory (MiB)'
INFERENCE_MEMORY = 'inference peak memory (MiB)'
TRAIN_ARITHMETIC = 'train arithmetic (GMAC/img)'
INFERENCE_ARITHMETIC = 'inference arithmetic, no flip (GMAC/img)'
PARAMETERS = 'parameters (M)'
TRAINABLE = 'trainable parameters (M)'
# the rows of the table, in order
METRICS = (TRAIN_THROUGHPUT, FLIP_THROUGHPUT, PLAIN_THROUGHPUT, TRAIN_MEMORY,
           INFERENCE_MEMORY, TRAIN_ARITHMETIC, INFERENCE_ARITHMETIC,
           PARAMETERS, TRAINABLE)
# what each timed step runs: 'train', test with flip, test without
_THROUGHPUT_MODES = ((TRAIN_THROUGHPUT, 'train'), (FLIP_THROUGHPUT, 'flip'),
                     (PLAIN_THROUGHPUT, 'plain'))
_MEMORY_MODES = ((TRAIN_MEMORY, 'train'), (INFERENCE_MEMORY, 'flip'))
_ARITHMETIC_MODES = ((TRAIN_ARITHMETIC, 'train'), (INFERENCE_ARITHMETIC,
                                                   'plain'))


class BenchmarkResult(NamedTuple):
    """What :func:`run_benchmark` measured.

    Attributes:
        names (tuple[str, str]): the two models' names (A, B).
        samples (dict): ``samples[metric][name]`` is the list of values,
            one per repeat (throughputs in images per second, memory in
            MiB, parameters in millions, the frozen ones included in
            ``PARAMETERS``, not in ``TRAINABLE``), for every metric in
            :data:`METRICS`.
        batch_size (int): images per step.
        device (str): ``'cpu'`` or ``'cuda'``.
        machine (str): the machine, see :func:`describe_machine`.
        memory_method (str): how peak memory was measured.
    """
    names: tuple
    samples: Dict[str, Dict[str, List[float]]]
    batch_size: int
    device: str
    machine: str
    memory_method: str


def _codec(cfg: Config):
    """The config's heatmap codec (the head's decoder)."""
    decoder = cfg.model.get('head', {}).get('decoder')
    if decoder is None:
        raise ValueError('the config has no model.head.decoder: the '
                         'benchmark builds its targets with that codec')
    return KEYPOINT_CODECS.build(decoder)


def synthetic_batch(cfg: Config,
                    batch_size: int,
                    device: str = 'cpu',
                    seed: int = 0) -> dict:
    """A batch as MMPose's data loader would give it, with random content.

    Images are random pixels of the config's input size; each sample has
    one instance with random keypoints inside the crop (about one in ten
    invisible), encoded by the config's codec into ``gt_fields.heatmaps``
    and ``gt_instance_labels.keypoint_weights``, plus
    ``gt_instances.transformed_keypoints`` and the meta-information the
    heads read (``input_size``, ``input_center``, ``input_scale``,
    ``flip_indices``).

    Args:
        cfg (Config): an MMPose top-down config.
        batch_size (int): number of samples.
        device (str): where to put the tensors.
        seed (int): random seed.

    Returns:
        dict: ``inputs`` (list of ``(3, H, W)`` float tensors, 0-255) and
        ``data_samples`` (list of :class:`PoseDataSample`).
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be positive, got {batch_size}')
    codec = _codec(cfg)
    width, height = codec.input_size
    meta = dataset_meta_from_config(cfg, dataset_mode='train')
    if meta is None:
        raise ValueError('cannot read the dataset meta-information (keypoint '
                         'count, flip indices) from the config')
    num_keypoints = meta['num_keypoints']
    rng = np.random.default_rng(seed)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(
            torch.from_numpy(rng.uniform(0, 255,
                                         (3, height,
                                          width))).to(device, torch.float32))
        keypoints = rng.uniform((0.1 * width, 0.1 * height),
                                (0.9 * width, 0.9 * height),
                                (1, num_keypoints, 2)).astype(np.float32)
        visible = (rng.random((1, num_keypoints)) > 0.1).astype(np.float32)
        encoded = codec.encode(keypoints, visible)
        sample = PoseDataSample()
        sample.gt_fields = PixelData(
            heatmaps=torch.from_numpy(encoded['heatmaps']).float())
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=torch.from_numpy(
                encoded['keypoint_weights']).float())
        center = np.array([[width / 2, height / 2]], dtype=np.float32)
        scale = np.array([[width, height]], dtype=np.float32)
        sample.gt_instances = InstanceData(
            bboxes=np.array([[0, 0, width, height]], dtype=np.float32),
            bbox_scores=np.ones(1, dtype=np.float32),
            bbox_centers=center,
            bbox_scales=scale,
            keypoints=keypoints,
            keypoints_visible=visible,
            transformed_keypoints=keypoints)
        sample.set_metainfo(
            dict(
                input_size=(width, height),
                input_center=center[0],
                input_scale=scale[0],
                flip_indices=meta['flip_indices']))
        samples.append(sample.to(device))
    return dict(inputs=inputs, data_samples=samples)


class _Bench:
    """One model with its optimizer and batch, and its three steps."""

    def __init__(self, cfg: Config, batch_size: int, device: str, seed: int):
        self.model = build_random_model(cfg, device)
        # mmengine logs every parameter's options (ViT: 900 lines) and
        # every frozen one: quiet
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            self.optim_wrapper: OptimWrapper = build_optim_wrapper(
                self.model, cfg.optim_wrapper)
        finally:
            logger.setLevel(level)
        self.batch = synthetic_batch(cfg, batch_size, device, seed)
        self.flip_test = bool(self.model.test_cfg.get('flip_test', False))
        # training changed the weights since the last inference step
        self.trained = True

    def step(self, mode: str) -> None:
        """Run one step: ``'train'``, ``'flip'`` or ``'plain'`` (test)."""
        if mode == 'train':
            self.model.train()
            self.model.train_step(self.batch, self.optim_wrapper)
            self.trained = True
            return
        self.model.eval()
        self.model.test_cfg['flip_test'] = mode == 'flip'
        with torch.no_grad():
            self.model.test_step(self.batch)
        self.trained = False

    def settle(self, mode: str) -> None:
        """Before measuring inference, run one untimed inference step if
        training changed the weights since the last one.

        A deployed model computes what depends only on its weights once
        (PromptPose's prompts, cached in eval mode); without this the first
        inference step after the benchmark's training steps would count it.
        """
        if mode != 'train' and self.trained:
            self.step(mode)

    def state_bytes(self, mode: str) -> int:
        """Bytes of parameters and buffers (and optimizer state to train)."""
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        if mode == 'train':
            for state in self.optim_wrapper.optimizer.state.values():
                tensors += [
                    v for v in state.values() if isinstance(v, torch.Tensor)
                ]
        return sum(t.numel() * t.element_size() for t in tensors)

    def gmacs_per_image(self, mode: str) -> float:
        """Multiply-accumulates of one step per image, in billions.

        Counted by :func:`~benchmarks.arithmetic.mac_counter`
        (matrix products, convolutions and attention, the CPU's fused
        attention kernels too, backward included; not the element-wise
        operations or the optimizer's update).
        It does not depend on the machine, so it tells a slow implementation
        from work the model has to do.
        """
        self.settle(mode)
        with mac_counter() as counter:
            self.step(mode)
        return counter.get_total_flops() / 2e9 / len(self.batch['inputs'])

    def num_parameters(self, trainable: bool = False) -> int:
        """All parameters, or only those with ``requires_grad``."""
        return sum(p.numel() for p in self.model.parameters()
                   if p.requires_grad or not trainable)


def _synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def _proc_status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS to the current RSS (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        _proc_status_kib('VmHWM')
        return True
    except (OSError, KeyError, ValueError):
        return False


def memory_method(device: str) -> str:
    """How :func:`peak_memory` measures on this device and system."""
    if device.startswith('cuda'):
        return ('CUDA: model state + (torch.cuda.max_memory_allocated - '
                'memory_allocated at the step start)')
    if _reset_peak_rss():
        return ('CPU: model state + (peak RSS during the step, VmHWM reset '
                'through /proc/self/clear_refs - RSS at the step start)')
    return ('CPU: model state + increase of the process peak RSS '
            '(ru_maxrss) during the step: a lower bound')


@contextlib.contextmanager
def peak_memory(device: str) -> Iterator[List[int]]:
    """Measure the peak memory added by the code in the ``with`` block.

    Yields a list that holds, after the block, the bytes added at the peak
    above what was in use when the block started (see the module's
    docstring for what is counted on each device).
    """
    out: List[int] = []
    gc.collect()
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        yield out
        torch.cuda.synchronize(device)
        out.append(torch.cuda.max_memory_allocated(device) - start)
        return
    release_free_cpu_memory()
    if _reset_peak_rss():
        start = _proc_status_kib('VmRSS')
        yield out
        out.append(max(0, _proc_status_kib('VmHWM') - start) * 1024)
        return
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield out
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.append(max(0, peak - start) * 1024)


# the CPU flags of the units that run reduced precision natively
REDUCED_PRECISION_FLAGS = ('amx_bf16', 'amx_int8', 'avx512_bf16',
                           'avx512_vnni', 'avx_vnni')


def describe_machine(device: str) -> str:
    """CPU model, cores, its bfloat16 and int8 units, torch threads and
    version, the allocator's mode
    (:func:`~promptpose_mm.utils.cpu_memory_mode`), and the GPU if
    used."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            names = [
                line.split(':', 1)[1].strip() for line in f
                if line.startswith('model name')
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    flags = cpu_flags()
    units = ', '.join(
        flag for flag in REDUCED_PRECISION_FLAGS if flag in flags) or 'none'
    text = (f'CPU: {cpu} ({os.cpu_count()} logical cores; bfloat16/int8 '
            f'units: {units}), torch {torch.__version__} with '
            f'{torch.get_num_threads()} threads, {cpu_memory_mode()}')
    if device.startswith('cuda'):
        text += f'; GPU: {torch.cuda.get_device_name(device)}'
    return text


def timed(step: Callable[[], object], iters: int, device: str) -> float:
    """Seconds that ``iters`` calls of ``step`` take, the device's queued
    work included (CUDA is synchronised before and after)."""
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _synchronize(device)
    return time.perf_counter() - start


def build_benches(configs: Dict[str, Config], batch_size: int, device: str,
                  seed: int) -> Dict[str, _Bench]:
    """One :class:`_Bench` per named config (exactly two), each model's
    weights drawn from ``seed``."""
    if len(configs) != 2:
        raise ValueError(f'compare exactly two configs, got {len(configs)}')
    benches = {}
    for name, cfg in configs.items():
        torch.manual_seed(seed)
        benches[name] = _Bench(cfg, batch_size, device, seed)
    return benches


def run_benchmark(configs: Dict[str, Config],
                  batch_size: int = 16,
                  repeats: int = 5,
                  warmup: int = 2,
                  iters: int = 3,
                  device: str = 'cpu',
                  progress: bool = True,
                  seed: int = 0,
                  training: bool = True) -> BenchmarkResult:
    """Measure two models interleaved (A, B, A, B, ...).

    Each repeat times ``iters`` training steps, then ``iters`` flip-test
    and ``iters`` plain inference steps, of model A then model B. Then, as
    many times, one training step and one flip-test inference step of each
    run under :func:`peak_memory` (after the timing: it trims the heap).
    Before the repeats each model runs ``warmup`` steps of each kind.

    Args:
        configs (dict[str, Config]): exactly two named configs, in table
            order (A first: the ratio is A / B).
        batch_size (int): images per step.
        repeats (int): timed repeats (the table shows their median and
            interquartile range).
        warmup (int): untimed steps of each kind per model, first.
        iters (int): steps per timed repeat.
        device (str): ``'cpu'`` or ``'cuda'`` (``'cuda:N'``).
        progress (bool): show a tqdm progress bar.
        seed (int): seed of the weights and of the synthetic batch.
        training (bool): also measure training; without it the training
            rows stay empty and the run takes a third of the time.

    Returns:
        BenchmarkResult: every measurement.
    """
    for name, value in (('batch_size', batch_size), ('repeats', repeats),
                        ('iters', iters)):
        if value < 1:
            raise ValueError(f'{name} must be at least 1, got {value}')
    if warmup < 0:
        raise ValueError(f'warmup must be >= 0, got {warmup}')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError('--device cuda asked but torch sees no CUDA device; '
                         'use --device cpu')
    from tqdm import tqdm
    names = tuple(configs)
    benches = build_benches(configs, batch_size, device, seed)
    samples = {metric: {name: [] for name in names} for metric in METRICS}

    def measured(modes):
        return [(m, mode) for m, mode in modes if training or mode != 'train']

    throughput_modes = measured(_THROUGHPUT_MODES)
    memory_modes = measured(_MEMORY_MODES)
    for name, bench in benches.items():
        for metric, mode in measured(_ARITHMETIC_MODES):
            samples[metric][name] = [bench.gmacs_per_image(mode)] * repeats
        samples[PARAMETERS][name] = [bench.num_parameters() / 1e6] * repeats
        samples[TRAINABLE][name] = [bench.num_parameters(True) / 1e6] * repeats
    steps_per_model = (
        len(throughput_modes) * (warmup + repeats * iters) +
        len(memory_modes) * repeats)
    bar = tqdm(
        total=2 * steps_per_model,
        desc='benchmark',
        unit='step',
        disable=not progress)
    for _, mode in throughput_modes:
        for bench in benches.values():
            for _ in range(warmup):
                bench.step(mode)
                bar.update()
    for _ in range(repeats):
        for metric, mode in throughput_modes:
            for name, bench in benches.items():
                bench.settle(mode)
                seconds = timed(lambda: bench.step(mode), iters, device)
                samples[metric][name].append(batch_size * iters / seconds)
                bar.update(iters)
    # after the timing: measuring memory hands the free heap back to the
    # system, which the next step would have to fault in again
    for _ in range(repeats):
        for metric, mode in memory_modes:
            for name, bench in benches.items():
                bench.settle(mode)
                with peak_memory(device) as added:
                    bench.step(mode)
                total = bench.state_bytes(mode) + added[0]
                samples[metric][name].append(total / MiB)
                bar.update()
    bar.close()
    for bench in benches.values():
        bench.model.test_cfg['flip_test'] = bench.flip_test
    return BenchmarkResult(names, samples, batch_size, device,
                           describe_machine(device), memory_method(device))


def median_iqr(values: Sequence[float]) -> tuple:
    """Median and interquartile range (75th minus 25th percentile)."""
    values = np.asarray(values, dtype=np.float64)
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return float(median), float(q75 - q25)


def paired_ratios(result: BenchmarkResult, metric: str) -> List[float]:
    """A / B of ``metric`` within each repeat.

    A repeat measures A, then B, back to back, so that their ratio cancels
    the machine's slow drift, which moves the two medians apart when the
    whole run is noisy.
    """
    first, second = (result.samples[metric][name] for name in result.names)
    return [a / b if b else float('nan') for a, b in zip(first, second)]


def format_table(result: BenchmarkResult) -> str:
    """The result as a Markdown table: median (IQR) per model, ratio A/B.

    Rows are the measured :data:`METRICS`; columns ``metric``, the two
    model names,
    ``ratio A / B`` of the medians and the median (IQR) of the
    :func:`paired_ratios`. The machine, batch size, repeats and the memory
    method follow the table.
    """
    first, second = result.names
    header = [
        'metric', first, second, f'ratio {first} / {second}',
        'paired ratio (IQR)'
    ]
    rows = []
    for metric in METRICS:
        if not result.samples[metric][first]:
            continue  # not measured (training=False)
        cells = [metric]
        medians = []
        for name in result.names:
            median, iqr = median_iqr(result.samples[metric][name])
            medians.append(median)
            cells.append(f'{median:.4g} ({iqr:.2g})')
        ratio = medians[0] / medians[1] if medians[1] else float('nan')
        cells.append(f'{ratio:.3f}')
        paired, spread = median_iqr(paired_ratios(result, metric))
        cells.append(f'{paired:.3f} ({spread:.2g})')
        rows.append(cells)
    lines = markdown_table(header, rows)
    repeats = len(result.samples[PLAIN_THROUGHPUT][first])
    lines += [
        '',
        f'median (IQR) over {repeats} repeats, batch {result.batch_size}, '
        f'device {result.device}',
        f'machine: {result.machine}',
        f'memory: {result.memory_method}',
    ]
    return '\n'.join(lines)
