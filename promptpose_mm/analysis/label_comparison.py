"""PromptPose against SimpleBaseline on a real labelled set, same budget.

:func:`write_protocol_configs` writes downstream configs that inherit the
paper configs (by absolute path) and override only the dataset (a COCO
keypoint file with its MMPose metainfo, e.g. from
:func:`promptpose_mm.annotations.import_labels`), random
initialisation, the protocol's optimiser and schedule, and the seed.
Ablations of PromptPose inherit its protocol config and switch one part off
(:data:`ABLATIONS`). :func:`run_training` trains one config with MMEngine's
``Runner`` and records every evaluation (``CocoMetric`` and MMPose's
``EPE``); :func:`format_comparison` prints them as a Markdown table.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import subprocess
import time
from typing import Dict, List, NamedTuple, Optional, Sequence

from mmengine.config import Config
from mmengine.hooks import Hook

from promptpose_mm.annotations.dataset_config import (config_text,
                                                      dataset_entries)
from promptpose_mm.utils.tables import markdown_table

# One PromptPose part switched off alone: the config change it makes.
ABLATIONS: Dict[str, Dict[str, object]] = {
    'pixel': {
        'model.head.pixel_loss': None
    },
    'semantic': {
        'model.head.semantic_loss': None
    },
    'prompt_encoder': {
        'model.neck.prompt_encoder': None
    },
    'context_decoder': {
        'model.neck.context_decoder': None
    },
    'fusion': {
        'model.head.fuse_score_map': False
    },
}
METRIC_KEYS = ('coco/AP', 'EPE')


class Protocol(NamedTuple):
    """The training budget both models get."""
    epochs: int = 40
    val_interval: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    warmup_iters: int = 50
    milestones: Sequence[int] = (30, )
    seed: int = 0
    num_workers: int = 0
    # train only this many epochs of the schedule above (a prefix of the
    # full run: the schedule still ends at ``epochs``); None: all of it
    stop_epoch: Optional[int] = None


def _nested(options: Dict[str, object]) -> Dict[str, dict]:
    """``{'a.b.c': v}`` -> ``{'a': {'b': {'c': v}}}``."""
    out: Dict[str, dict] = {}
    for key, value in options.items():
        *parents, leaf = key.split('.')
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return out


def is_promptpose(config: str) -> bool:
    """Whether the config's model has a (PromptPose) neck."""
    return Config.fromfile(config).model.get('neck') is not None


def protocol_overrides(data: Dict[str, object], protocol: Protocol,
                       promptpose: bool) -> Dict[str, object]:
    """The top-level config entries a downstream protocol config sets.

    Args:
        data (dict): ``train``, ``val``, ``metainfo`` (paths),
            ``img_root`` and ``num_keypoints``, as
            :func:`~promptpose_mm.annotations.import_labels` returns.
        protocol (Protocol): budget, optimiser, schedule and seed.
        promptpose (bool): the model has the prompt neck.
    """
    # the dataset is stated once (one metainfo for the model and the
    # loaders): the prompt names, K and the head's channels follow from it
    model = dict(backbone=dict(init_cfg=None))
    if promptpose:
        model['neck'] = dict(init_cfg=None)
    entries = dataset_entries(data['train'], data['val'], data['metainfo'],
                              data['img_root'], protocol.batch_size,
                              protocol.num_workers)
    entries['model'] = dict(model, **entries['model'])
    return dict(
        **entries,
        train_cfg=dict(
            max_epochs=protocol.stop_epoch or protocol.epochs,
            val_interval=protocol.val_interval),
        optim_wrapper=dict(
            # the protocol's plain Adam (weight decay 0, its default)
            optimizer=dict(
                _delete_=True, type='Adam', lr=protocol.lr, weight_decay=0.)),
        param_scheduler=[
            dict(
                type='LinearLR',
                begin=0,
                end=protocol.warmup_iters,
                start_factor=0.001,
                by_epoch=False),
            dict(
                type='MultiStepLR',
                begin=0,
                end=protocol.epochs,
                milestones=list(protocol.milestones),
                gamma=0.1,
                by_epoch=True)
        ],
        auto_scale_lr=dict(enable=False, base_batch_size=protocol.batch_size),
        randomness=dict(seed=protocol.seed),
        default_hooks=dict(
            logger=dict(interval=1),
            checkpoint=dict(interval=-1, save_best=None, save_last=False)),
        log_processor=dict(window_size=1))


def write_protocol_configs(data: Dict[str, object],
                           out_dir: str,
                           promptpose_config: str,
                           baseline_config: str,
                           protocol: Protocol = Protocol(),
                           ablations: Sequence[str] = (),
                           variants: Optional[Dict[str, Dict[str,
                                                             object]]] = None
                           ) -> Dict[str, str]:
    """Write the downstream configs of a comparison.

    ``simplebaseline.py`` and ``promptpose.py`` inherit the given configs by
    absolute path and set :func:`protocol_overrides`; each ablation
    ``promptpose-no_<part>.py`` (and each extra variant) inherits
    ``promptpose.py`` and changes only its own keys.

    Args:
        data (dict): the converted data set (see :func:`protocol_overrides`).
        out_dir (str): folder for the configs.
        promptpose_config (str): the PromptPose config to inherit.
        baseline_config (str): its SimpleBaseline twin.
        protocol (Protocol): the shared budget.
        ablations (Sequence[str]): keys of :data:`ABLATIONS`.
        variants (dict, optional): more PromptPose variants, name ->
            ``{'dotted.key': value}``.

    Returns:
        dict: run name -> config path, baseline first.
    """
    unknown = [name for name in ablations if name not in ABLATIONS]
    if unknown:
        raise ValueError(f'unknown ablations {unknown}; choose from '
                         f'{sorted(ABLATIONS)}')
    os.makedirs(out_dir, exist_ok=True)
    configs = {}
    header = 'Written by promptpose_mm.analysis.label_comparison: {what}.'
    for name, base, promptpose in (('simplebaseline', baseline_config, False),
                                   ('promptpose', promptpose_config, True)):
        base = osp.abspath(base)
        if is_promptpose(base) != promptpose:
            raise ValueError(f'{base}: expected a '
                             f'{"PromptPose" if promptpose else "SimpleBase"}'
                             f'{"" if promptpose else "line"} config')
        text = config_text(
            base, protocol_overrides(data, protocol, promptpose),
            header.format(what='the paper config, the labelled set and '
                          'the protocol'))
        path = osp.join(out_dir, f'{name}.py')
        with open(path, 'w') as file:
            file.write(text)
        configs[name] = path
    derived = {f'promptpose-no_{name}': ABLATIONS[name] for name in ablations}
    derived.update(variants or {})
    for name, options in derived.items():
        text = config_text('./promptpose.py', _nested(options),
                           header.format(what=f'PromptPose variant {name}'))
        path = osp.join(out_dir, f'{name}.py')
        with open(path, 'w') as file:
            file.write(text)
        configs[name] = path
    return configs


def code_version() -> dict:
    """The git commit and a hash of the package's Python files as they
    are on disk (uncommitted edits included), to tell runs apart."""
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    digest = hashlib.sha1()
    for path in sorted(
            glob.glob(osp.join(package, '**', '*.py'), recursive=True)):
        with open(path, 'rb') as file:
            digest.update(file.read())
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                                cwd=package,
                                capture_output=True,
                                text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = ''
    return dict(commit=commit, package_sha1=digest.hexdigest()[:12])


class _RecordEvaluations(Hook):
    """Keep every validation's metrics with its epoch."""

    priority = 'LOWEST'

    def __init__(self):
        self.records: List[dict] = []

    def after_val_epoch(self, runner, metrics=None) -> None:
        record = dict(epoch=runner.epoch, iter=runner.iter)
        record.update({k: float(v) for k, v in (metrics or {}).items()})
        self.records.append(record)


def run_training(config: str,
                 work_dir: str,
                 cfg_options: Optional[dict] = None) -> dict:
    """Train one config with MMEngine's Runner, evaluating as it says.

    Args:
        config (str): the config file.
        work_dir (str): the run's work folder (logs, ``result.json``).
        cfg_options (dict, optional): overrides merged into the config.

    Returns:
        dict: ``config``, ``evaluations`` (one dict per validation with
        ``epoch``, ``iter`` and the metrics), ``train_seconds`` (wall
        time of ``runner.train()``, evaluations included) and ``code``
        (:func:`code_version`).
    """
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir
    version = code_version()
    # as MMPose's tools/train.py
    runner = Runner.from_cfg(cfg)
    recorder = _RecordEvaluations()
    runner.register_hook(recorder)
    start = time.perf_counter()
    runner.train()
    result = dict(
        config=osp.abspath(config),
        evaluations=recorder.records,
        train_seconds=time.perf_counter() - start,
        code=version)
    with open(osp.join(work_dir, 'result.json'), 'w') as file:
        json.dump(result, file, indent=1)
    return result


def load_result(work_dir: str) -> Optional[dict]:
    """A finished run's ``result.json``, or None."""
    path = osp.join(work_dir, 'result.json')
    if not osp.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)


def format_comparison(results: Dict[str, dict], note: str = '') -> str:
    """A Markdown table: one row per run, per evaluation ``AP / EPE``.

    Args:
        results (dict): run name -> :func:`run_training`'s result.
        note (str): a line printed under the table.
    """
    epochs = sorted({
        record['epoch']
        for result in results.values()
        for record in result['evaluations']
    })
    header = ['model'] + [f'epoch {e}: AP / EPE' for e in epochs] + ['train s']
    rows = []
    for name, result in results.items():
        by_epoch = {r['epoch']: r for r in result['evaluations']}
        cells = [name]
        for epoch in epochs:
            record = by_epoch.get(epoch)
            if record is None:
                cells.append('-')
                continue
            ap = record.get('coco/AP', float('nan'))
            epe = record.get('EPE', float('nan'))
            cells.append(f'{ap:.3f} / {epe:.1f}')
        cells.append(f'{result["train_seconds"]:.0f}')
        rows.append(cells)
    lines = markdown_table(header, rows)
    if note:
        lines += ['', note]
    return '\n'.join(lines)
