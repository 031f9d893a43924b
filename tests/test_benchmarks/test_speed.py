"""The benchmark scripts and their measuring code (``benchmarks/``) run on
the tiny configs and report what they name: smoke tests, never timings.

Nothing is trained: the models are the tiny configs' random ones.
"""
import importlib
import os.path as osp

import numpy as np
import pytest
import torch

from benchmarks.speed import METRICS, median_iqr, peak_memory, synthetic_batch
from promptpose_mm.utils.precision import cpu_bfloat16_units
from tests.paths import TINY, TINY_BASELINE

PROMPTPOSE, BASELINE = TINY, TINY_BASELINE


def _tool(name):
    """A script of ``benchmarks/`` as a module."""
    return importlib.import_module(f'benchmarks.{name}')


def test_synthetic_batch_targets_from_codec():
    from mmengine.config import Config
    cfg = Config.fromfile(PROMPTPOSE)
    batch = synthetic_batch(cfg, batch_size=2, seed=3)
    assert len(batch['inputs']) == 2
    assert batch['inputs'][0].shape == (3, 256, 256)
    for sample in batch['data_samples']:
        heatmaps = sample.gt_fields.heatmaps
        weights = sample.gt_instance_labels.keypoint_weights[0]
        keypoints = sample.gt_instances.transformed_keypoints[0]
        assert heatmaps.shape == (17, 64, 64)
        np.testing.assert_array_equal(weights.numpy(),
                                      sample.gt_instances.keypoints_visible[0])
        for k in np.flatnonzero(weights.numpy()):
            # MSRA heatmap peak at the keypoint / 4 (64 / 256), rounded
            peak = np.unravel_index(heatmaps[k].argmax(), (64, 64))
            np.testing.assert_array_equal(
                peak[::-1],
                np.round(keypoints[k] / 4).astype(int))
        assert sample.metainfo['input_size'] == (256, 256)
        assert len(sample.metainfo['flip_indices']) == 17


def test_median_iqr_and_peak_memory():
    assert median_iqr([5.0, 1.0, 3.0, 2.0, 4.0]) == (3.0, 2.0)
    with peak_memory('cpu') as added:
        block = torch.ones(16 * 2**20)  # 64 MiB, every page written
        del block
    assert added[0] >= 0.9 * 64 * 2**20


def test_benchmark_tool_tiny():
    result, table = _tool('benchmark').main([
        '--configs', PROMPTPOSE, BASELINE, '--batch-size', '2', '--repeats',
        '1', '--warmup', '0', '--iters', '1', '--no-progress'
    ])
    assert result.names == ('PromptPose', 'SimpleBaseline')
    for metric in METRICS:
        for name in result.names:
            values = result.samples[metric][name]
            assert len(values) == 1 and values[0] > 0
    # the prompt neck adds parameters
    params = result.samples['parameters (M)']
    assert params['PromptPose'][0] > params['SimpleBaseline'][0]
    # the CLIP text encoder is frozen, the baseline trains everything
    trainable = result.samples['trainable parameters (M)']
    assert trainable['PromptPose'][0] < params['PromptPose'][0]
    assert trainable['SimpleBaseline'][0] == params['SimpleBaseline'][0]
    lines = table.splitlines()
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    assert header == [
        'metric', 'PromptPose', 'SimpleBaseline',
        'ratio PromptPose / SimpleBaseline', 'paired ratio (IQR)'
    ]
    rows = [[c.strip() for c in line.strip('|').split('|')]
            for line in lines[2:2 + len(METRICS)]]
    assert [row[0] for row in rows] == list(METRICS)
    for row in rows:
        assert float(row[1].split()[0]) > 0 and float(row[2].split()[0]) > 0
        # one repeat: the paired ratio is the ratio
        assert float(row[3]) > 0
        assert float(row[4].split()[0]) == pytest.approx(
            float(row[3]), abs=1e-3)
    assert 'machine: CPU' in table and 'torch' in table


@pytest.mark.skipif(
    not cpu_bfloat16_units(), reason='this CPU has no bfloat16 units')
def test_benchmark_tool_compares_precisions(capsys):
    result, table = _tool('benchmark').main([
        '--configs', PROMPTPOSE, BASELINE, '--precisions', 'float32',
        'bfloat16', '--batch-size', '2', '--repeats', '1', '--warmup', '0',
        '--iters', '1', '--no-progress', '--no-training'
    ])
    assert result.names == ('float32', 'bfloat16')
    # the same model (PromptPose, config A) at both precisions
    params = result.samples['parameters (M)']
    assert params['float32'] == params['bfloat16']
    printed = capsys.readouterr().out
    assert 'float32: ' + PROMPTPOSE in printed
    assert 'bfloat16: ' + PROMPTPOSE in printed
    assert 'avx512_bf16' in table or 'amx_bf16' in table


def test_paired_ratio_cancels_drift():
    """Both models slow down together from repeat to repeat (and A has one
    outlier): the ratio of the medians mixes repeats, the paired ratio
    stays at A's 1.1x."""
    from benchmarks.speed import BenchmarkResult, format_table, paired_ratios
    b = [10.0, 8.0, 6.0, 4.0]  # B's throughput drifts down
    a = [11.0, 8.8, 11.0, 4.4]  # 1.1 x B, but 11 in the third repeat
    samples = {metric: dict(A=[1.0] * 4, B=[1.0] * 4) for metric in METRICS}
    samples[METRICS[0]] = dict(A=a, B=b)
    result = BenchmarkResult(('A', 'B'), samples, 16, 'cpu', 'm', 'mem')
    assert paired_ratios(result,
                         METRICS[0]) == pytest.approx([1.1, 1.1, 11 / 6, 1.1])
    row = format_table(result).splitlines()[2].split('|')
    # medians: A 9.9, B 7: 1.414; paired: 1.1 with IQR 0.183
    assert row[4].strip() == '1.414'
    assert row[5].strip() == '1.100 (0.18)'


def test_cost_breakdown_parts_run_what_they_name():
    from mmengine.config import Config

    from benchmarks.cost_breakdown import part_steps
    from promptpose_mm.apis import build_random_model
    cfg = Config.fromfile(PROMPTPOSE)
    model = build_random_model(cfg)
    steps = part_steps(model, synthetic_batch(cfg, 2))
    assert list(steps) == [
        'CLIP-space projection', 'prompts (text + prompt encoder)',
        'context decoder + score map', 'pixel branch + loss', 'semantic loss'
    ]
    # the losses run in training only
    assert 'inference' not in steps['pixel branch + loss']
    owners = {
        'CLIP-space projection': model.backbone.clip.attnpool,
        'prompts (text + prompt encoder)': model.neck.prompt_encoder,
        'context decoder + score map': model.neck.context_decoder,
        'pixel branch + loss': model.head.pixel_branch,
        'semantic loss': model.head.semantic_loss_module,
    }
    model.train()
    for name, owner in owners.items():
        model.zero_grad(set_to_none=True)
        steps[name]['training']()
        # the part's own weights get gradients, nothing else does
        assert all(p.grad is not None for p in owner.parameters()), name
        assert model.backbone.clip.layer1[0].conv1.weight.grad is None, name
        has_context_grad = model.neck.text_encoder.context.grad is not None
        assert has_context_grad == name.startswith('prompts'), name
    model.eval()
    with torch.no_grad():
        dense, global_feat = steps['CLIP-space projection']['inference']()
    assert dense.shape[:2] == (2, model.neck.embed_dim)

    baseline = build_random_model(Config.fromfile(BASELINE))
    with pytest.raises(TypeError, match='needs a PromptPose model'):
        part_steps(baseline, synthetic_batch(cfg, 2))


def test_benchmark_breakdown_table():
    _, table = _tool('benchmark').main([
        '--configs', PROMPTPOSE, BASELINE, '--batch-size', '2', '--repeats',
        '1', '--warmup', '0', '--iters', '1', '--no-progress', '--breakdown'
    ])
    lines = table.split('\n\n')[-2].splitlines()
    rows = {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in line.strip('|').split('|')]
                      for line in lines[2:])
    }
    assert list(rows)[:5] == [
        'CLIP-space projection', 'prompts (text + prompt encoder)',
        'context decoder + score map', 'pixel branch + loss', 'semantic loss'
    ]
    assert rows['pixel branch + loss'][:2] == ['-', '-']
    parts = [float(rows[name][2]) for name in list(rows)[:5]]
    assert all(ms > 0 for ms in parts)
    total, difference, rest = (
        float(rows[name][2])
        for name in ('sum of the parts',
                     'measured difference of the whole steps',
                     'rest (difference - parts)'))
    assert total == pytest.approx(sum(parts), rel=1e-2, abs=0.01)
    assert rest == pytest.approx(difference - total, rel=1e-2, abs=0.01)


def test_benchmark_arithmetic_per_image():
    from mmengine.config import Config

    from benchmarks.speed import _Bench
    counts = {}
    for name, path in (('PromptPose', PROMPTPOSE), ('SimpleBaseline',
                                                    BASELINE)):
        for batch in (1, 2):
            torch.manual_seed(0)
            bench = _Bench(Config.fromfile(path), batch, 'cpu', 0)
            counts[name, batch] = (bench.gmacs_per_image('plain'),
                                   bench.gmacs_per_image('train'))
    # inference work is per image (PromptPose's prompts are computed once
    # for the weights, before the counted step)
    for name in ('PromptPose', 'SimpleBaseline'):
        assert counts[name, 1][0] == pytest.approx(
            counts[name, 2][0], rel=1e-6)
    # a training step is about three forwards: forward, then backward to
    # both the inputs and the weights of every layer
    plain, train = counts['SimpleBaseline', 2]
    assert 2.5 * plain < train < 3.5 * plain
    # SimpleBaseline's training work is per image; PromptPose's includes
    # the text encoder once per batch, shared by the images of a batch
    assert counts['SimpleBaseline', 1][1] == pytest.approx(
        counts['SimpleBaseline', 2][1], rel=1e-6)
    assert counts['PromptPose', 2][1] < counts['PromptPose', 1][1]
    # the dense CLIP projection and the neck are extra work
    assert counts['PromptPose', 1][0] > counts['SimpleBaseline', 1][0]


@pytest.mark.slow  # trains or times several models
def test_onnx_speed_tool_tiny(tmp_path):
    """The table has a row per model and batch, both backends measured
    below the float32 limit of the graph's arithmetic, and the exported
    files are reused on a second run."""
    tool = _tool('onnx_speed')
    argv = [
        '--models', 'promptpose-tiny', 'simplebaseline-tiny', '--batch-sizes',
        '1', '2', '--repeats', '1', '--seconds', '0.01', '--work-dir',
        str(tmp_path)
    ]
    table = tool.main(argv)
    rows = [line.split('|')[1:-1] for line in table.splitlines()[2:]]
    assert [(r[0].strip(), r[1].strip())
            for r in rows] == [('promptpose-tiny', '1'),
                               ('promptpose-tiny', '2'),
                               ('simplebaseline-tiny', '1'),
                               ('simplebaseline-tiny', '2')]
    gmacs, eager, fast, speedup, limit, bound = ([
        float(row[i].strip().rstrip('x')) for row in rows
    ] for i in range(2, 8))
    assert min(eager) > 0 and min(fast) > 0
    # (the table rounds to 2 decimals)
    assert speedup == pytest.approx([f / e for f, e in zip(fast, eager)],
                                    rel=0.01)
    # the arithmetic of a graph does not depend on the batch
    assert gmacs[0] == gmacs[1] > 0 and gmacs[2] == gmacs[3] > 0
    # nothing runs faster than the best matrix-product rate allows
    assert all(f < m for f, m in zip(fast, limit))
    assert bound == pytest.approx([m / e for m, e in zip(limit, eager)],
                                  rel=0.01)
    stamp = osp.getmtime(tmp_path / 'promptpose-tiny.onnx')
    tool.main(argv[:2] + argv[3:])
    assert osp.getmtime(tmp_path / 'promptpose-tiny.onnx') == stamp


def test_step_phases_are_the_train_step_split():
    """train_step_phases updates the weights exactly as model.train_step
    does, and its forward and backward arithmetic add up to the step's."""
    from mmengine.config import Config

    from benchmarks.speed import _Bench
    from benchmarks.step_phases import (BACKWARD, FORWARD, PHASES, step_gmacs,
                                        train_step_phases)
    benches = []
    for _ in range(2):
        torch.manual_seed(0)
        benches.append(_Bench(Config.fromfile(PROMPTPOSE), 2, 'cpu', 0))
    whole, phased = benches
    before = {k: v.clone() for k, v in phased.model.state_dict().items()}
    torch.manual_seed(1)  # the same dropout masks
    whole.step('train')
    torch.manual_seed(1)
    seconds = train_step_phases(phased)
    assert list(seconds) == list(PHASES) and min(seconds.values()) >= 0
    changed = 0
    # an optimizer step moves a weight by about lr (2e-3 here): 1e-5 is
    # float noise, another step would differ by far more
    for key, value in phased.model.state_dict().items():
        torch.testing.assert_close(
            value, whole.model.state_dict()[key], rtol=1e-4, atol=1e-5)
        changed += not torch.equal(value, before[key])
    assert changed > 10  # the step did update the weights
    assert all(p.grad is None for p in phased.model.parameters())
    torch.manual_seed(0)
    bench = _Bench(Config.fromfile(BASELINE), 2, 'cpu', 0)
    total = bench.gmacs_per_image('train')
    macs = step_gmacs(bench)
    assert macs[FORWARD] + macs[BACKWARD] == pytest.approx(total, rel=1e-6)
    # backward: gradients of the inputs and of the weights, each about a
    # forward's work
    assert 1.5 * macs[FORWARD] < macs[BACKWARD] < 2.5 * macs[FORWARD]


def test_benchmark_phases_table():
    from benchmarks.step_phases import PHASES
    result, table = _tool('benchmark').main([
        '--configs', PROMPTPOSE, BASELINE, '--batch-size', '2', '--repeats',
        '2', '--warmup', '0', '--phases', '--no-progress'
    ])
    for name in result.names:
        assert all(len(result.seconds[name][p]) == 2 for p in PHASES)
        assert result.ops[name]['aten::convolution_backward'] > 0
    # the text encoder is frozen: PromptPose's optimizer updates fewer
    # parameters than it has, but more than SimpleBaseline
    assert result.trainable['PromptPose'] > result.trainable['SimpleBaseline']
    lines = table.splitlines()
    rows = {
        line.strip('|').split('|')[0].strip():
        [c.strip() for c in line.strip('|').split('|')[1:]]
        for line in lines if line.startswith('| ')
    }
    for phase in PHASES + ('whole step', ):
        a, b, diff, ratio = map(float, rows[phase][:4])
        assert diff == pytest.approx(a - b, abs=0.11)
        if b > 5:  # the table's ms are rounded to 0.1
            assert ratio == pytest.approx(a / b, rel=3e-2)
    whole = float(rows['whole step'][0])
    assert whole == pytest.approx(
        sum(float(rows[p][0]) for p in PHASES), abs=0.3)
    assert 'params' in rows['optimizer step'][4]
    assert float(rows['backward'][4]) > 0
    assert 'all operators' in rows
    with pytest.raises(ValueError, match='exactly two'):
        from benchmarks.step_phases import run_phases
        run_phases({'a': None})


def test_benchmark_tool_inference_only():
    """--no-training leaves the training rows out and measures the rest."""
    tool = _tool('benchmark')
    result, table = tool.main([
        '--configs', PROMPTPOSE, BASELINE, '--batch-size', '2', '--repeats',
        '2', '--warmup', '0', '--iters', '1', '--no-progress', '--no-training'
    ])
    training = {m for m in METRICS if m.startswith('train ')}
    assert len(training) == 3  # throughput, peak memory, arithmetic
    for metric in METRICS:
        for name in result.names:
            values = result.samples[metric][name]
            assert len(values) == (0 if metric in training else 2)
    rows = [
        line.split('|')[1].strip() for line in table.splitlines()[2:]
        if line.startswith('|')
    ]
    assert rows == [m for m in METRICS if m not in training]
    assert 'over 2 repeats' in table
    with pytest.raises(SystemExit):
        tool.parse_args(['--no-training', '--phases'])
