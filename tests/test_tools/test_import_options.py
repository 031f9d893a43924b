"""The importer's command-line options (``tools/cli.py``):
one declaration for the import tool and the comparison tool, stored under
``import_labels``' argument names with its defaults."""
import argparse
import inspect

import pytest

from promptpose_mm.annotations import import_labels
from tests.paths import load_tool
from tools.cli import TAKES, add_import_options, import_options


def _parser(*names, **defaults):
    parser = argparse.ArgumentParser()
    add_import_options(parser, names or None, **defaults)
    return parser


def test_every_option_is_an_argument_with_its_default():
    parameters = inspect.signature(import_labels).parameters
    assert set(TAKES) == set(parameters) - {'source', 'out_dir'}
    options = import_options(_parser().parse_args([]))
    assert options == {name: parameters[name].default for name in TAKES}
    assert options['box_mode'] == 'animal' and options['padding'] == 0.25


def test_values_are_parsed_and_checked(capsys):
    parser = _parser()
    options = import_options(
        parser.parse_args([
            '--box', 'frame', '--input-size', '192x256', '--val-every', '5',
            '--sigma', '0.05', '--backbone', 'vit-b16'
        ]))
    assert options['box_mode'] == 'frame'
    assert options['input_size'] == (192, 256)
    assert (options['val_every'], options['sigma']) == (5, 0.05)
    assert options['backbone'] == 'vit-b16'
    for bad in (['--input-size', '256'], ['--box',
                                          'animals'], ['--backbone', 'rn101']):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    err = capsys.readouterr().err
    assert "'256': give WIDTHxHEIGHT, e.g. 256x256" in err
    assert "invalid choice: 'animals'" in err


def test_a_tool_takes_some_with_its_own_defaults():
    names = ('val_every', 'padding')
    parser = _parser(*names, val_every=5)
    args = parser.parse_args([])
    assert import_options(args, names) == dict(val_every=5, padding=0.25)
    assert '(default: 5)' in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(['--sigma', '0.1'])  # not taken
    with pytest.raises(TypeError, match=r"no option \['val_evry'\]"):
        _parser(val_evry=5)


def test_comparison_tool_keeps_its_training_seed_and_batch():
    tool = load_tool('analysis/compare_on_labels.py')
    args = tool.parse_args(
        ['project', '--work-dir', 'w', '--seed', '3', '--batch-size', '8'])
    assert import_options(args, tool.IMPORT_OPTIONS) == dict(
        val_every=5, padding=0.25, sigma=0.025)
    assert (args.seed, args.batch_size) == (3, 8)


def test_import_tool_passes_every_option(monkeypatch, capsys):
    tool = load_tool('dataset_converters/import_labels.py')
    calls = []

    def fake(source, out_dir, **kwargs):
        calls.append((source, out_dir, kwargs))
        return dict(text='imported')

    monkeypatch.setattr(tool, 'import_labels', fake)
    tool.main(['proj', 'out', '--box', 'frame', '--seed', '2'])
    (source, out_dir, kwargs), = calls
    assert (source, out_dir) == ('proj', 'out')
    assert set(kwargs) == set(TAKES)
    assert (kwargs['box_mode'], kwargs['seed']) == ('frame', 2)
    assert capsys.readouterr().out.strip() == 'imported'
