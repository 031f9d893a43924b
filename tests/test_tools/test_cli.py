"""The command-line arguments the tools share (``tools/cli.py``):
the same names, defaults and help in every tool that takes them."""
import argparse

import pytest

from promptpose_mm.apis import ANIMAL_DET_CAT_IDS
from tests.paths import load_tool
from tools import cli

DOC = """One line that describes the tool.

Examples::

    python tools/x.py --flag
"""


def test_tool_parser_splits_the_docstring():
    parser = cli.tool_parser(DOC)
    assert parser.description == 'One line that describes the tool.'
    assert parser.epilog == DOC.partition('\n')[2]
    assert '    python tools/x.py --flag' in parser.format_help()


def test_pose_model_is_required_and_device_defaults(capsys):
    parser = argparse.ArgumentParser()
    cli.add_pose_model(parser)
    args = parser.parse_args(['--config', 'c.py', '--checkpoint', 'w.pth'])
    assert (args.config, args.checkpoint, args.device) == ('c.py', 'w.pth',
                                                           'cpu')
    with pytest.raises(SystemExit):
        parser.parse_args(['--config', 'c.py'])
    assert '--checkpoint' in capsys.readouterr().err
    parser = argparse.ArgumentParser()
    cli.add_pose_model(parser, device=None)
    assert parser.parse_args(['--config', 'c', '--checkpoint',
                              'w']).device is None


def test_boxes_repeat_and_are_floats():
    parser = argparse.ArgumentParser()
    cli.add_box(parser, '--bbox', 'a box')
    args = parser.parse_args(
        ['--bbox', '1', '2', '3', '4', '--bbox', '0', '0', '5.5', '6'])
    assert args.bbox == [[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 5.5, 6.0]]
    assert parser.parse_args([]).bbox is None


def test_detector_defaults_and_exclusive_group(capsys):
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group()
    cli.add_box(group, '--bbox', 'a box')
    cli.add_detector(parser, config_group=group)
    args = parser.parse_args([])
    assert args.det_cat_ids == list(ANIMAL_DET_CAT_IDS)
    assert (args.bbox_thr, args.nms_thr) == (0.3, 0.3)
    assert args.det_config is None and args.det_checkpoint is None
    with pytest.raises(SystemExit):
        parser.parse_args(['--bbox', '0', '0', '1', '1', '--det-config', 'd'])
    assert 'not allowed with argument' in capsys.readouterr().err


DETECTOR_ARGS = [
    '--config', 'c.py', '--checkpoint', 'w.pth', '--det-config', 'd.py',
    '--det-checkpoint', 'd.pth', '--det-cat-ids', '16', '17', '--bbox-thr',
    '0.5', '--nms-thr', '0.6', '--kpt-thr', '0.2', '--device', 'cuda:1',
    '--precision', 'float16'
]
SHARED = ('config', 'checkpoint', 'det_config', 'det_checkpoint',
          'det_cat_ids', 'bbox_thr', 'nms_thr', 'kpt_thr', 'device',
          'precision')


def test_image_and_video_tools_take_the_same_options():
    images = load_tool('inference.py').parse_args(['a.jpg', *DETECTOR_ARGS])
    videos = load_tool('analyze_video.py').parse_args(
        ['a.mp4', '--boxes', 'detector', *DETECTOR_ARGS])
    expected = dict(
        config='c.py',
        checkpoint='w.pth',
        det_config='d.py',
        det_checkpoint='d.pth',
        det_cat_ids=[16, 17],
        bbox_thr=0.5,
        nms_thr=0.6,
        kpt_thr=0.2,
        device='cuda:1',
        precision='float16')
    for args in (images, videos):
        assert {key: getattr(args, key) for key in SHARED} == expected


def test_inferencer_from_args_passes_every_option(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, 'build_pose_inferencer',
                        lambda *args, **kwargs: calls.append((args, kwargs)))
    args = load_tool('inference.py').parse_args(['a.jpg', *DETECTOR_ARGS])
    cli.inferencer_from_args(args)
    assert calls == [(('c.py', 'w.pth'),
                      dict(
                          device='cuda:1',
                          precision='float16',
                          det_config='d.py',
                          det_checkpoint='d.pth',
                          det_cat_ids=[16, 17]))]


@pytest.mark.parametrize('tool, source', [('inference.py', 'missing.jpg'),
                                          ('analyze_video.py', 'missing.mp4')])
def test_pose_tools_keep_freed_memory_unless_told(tool, source, monkeypatch,
                                                  tmp_path):
    """The image and video tools keep freed CPU memory for the next batch
    (as training does) before anything else, unless --default-malloc."""
    from tests.paths import TINY
    calls = []
    monkeypatch.setattr(cli, 'reuse_freed_cpu_memory',
                        lambda: calls.append(True))
    module = load_tool(tool)
    checkpoint = tmp_path / 'w.pth'
    checkpoint.write_bytes(b'')
    argv = [
        source, '--config', TINY, '--checkpoint',
        str(checkpoint), '--out-dir',
        str(tmp_path / 'out')
    ]
    for extra, expected in (([], [True]), (['--default-malloc'], [])):
        calls.clear()
        # the missing input (or empty checkpoint) ends the run after it
        with pytest.raises(SystemExit):
            module.main(argv + extra)
        assert calls == expected


def test_video_tool_names_one_animal_each(capsys):
    tool = load_tool('analyze_video.py')
    model = ['--config', 'c.py', '--checkpoint', 'w.pth']
    args = tool.parse_args(['a.mp4', *model, '--individuals', 'male', 'fem'])
    assert (args.individuals, args.animals) == (['male', 'fem'], 2)
    for wrong, message in (
        (['--individuals', 'a', 'b', '--box', '0', '0', '9',
          '9'], '2 --individuals for 1 animals'),
        (['--individuals', 'a', 'b', '--animals',
          '3'], '2 --individuals for 3 animals'),
        (['--individuals', 'a', 'a'], 'the names must differ'),
        (['--individuals', 'a', 'b', '--boxes',
          'frame'], '2 --individuals for 1 animals'),
    ):
        with pytest.raises(SystemExit):
            tool.parse_args(['a.mp4', *model, *wrong])
        assert message in capsys.readouterr().err
