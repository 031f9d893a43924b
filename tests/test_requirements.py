"""Every requirement is pinned or bounded, and the pins fit the bounds."""
import ast
import os.path as osp
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from tests.paths import ROOT


def requirement_lines(name: str) -> list:
    with open(osp.join(ROOT, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [Requirement(line) for line in lines if line]


def setup_requirements() -> list:
    """``install_requires`` and ``extras_require`` literals of setup.py."""
    with open(osp.join(ROOT, 'setup.py')) as f:
        tree = ast.parse(f.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'install_requires':
            found += [Requirement(v) for v in ast.literal_eval(node.value)]
        if isinstance(node, ast.keyword) and node.arg == 'extras_require':
            for key, value in zip(node.value.keys, node.value.values):
                if isinstance(value, ast.List):
                    found += [Requirement(v) for v in ast.literal_eval(value)]
    return found


def is_bounded(req: Requirement) -> bool:
    ops = {spec.operator for spec in req.specifier}
    return '==' in ops or (bool(ops & {'>=', '>', '~='})
                           and bool(ops & {'<', '<=', '~='}))


@pytest.mark.parametrize('source',
                         ['stack.txt', 'tests.txt', 'readers.txt', 'setup.py'])
def test_every_requirement_is_pinned_or_bounded(source):
    reqs = (
        setup_requirements()
        if source == 'setup.py' else requirement_lines(source))
    assert reqs
    loose = [str(r) for r in reqs if not is_bounded(r)]
    assert not loose, f'{source}: give {loose} a version or a range'


def test_open_clip_range_starts_at_batch_first_blocks():
    req, = [r for r in setup_requirements() if r.name == 'open_clip_torch']
    assert not req.specifier.contains('2.24.0')  # sequence-first blocks
    assert req.specifier.contains('2.26.1')
    assert not req.specifier.contains('4.0.0')


def test_installed_stack_fits_setup_py():
    """The pinned stack the tests run on lies inside setup.py's ranges."""
    for req in setup_requirements():
        if req.name == 'mmdet':
            continue  # an extra, installed for the detector tests
        version = metadata.version(req.name)
        assert req.specifier.contains(
            version, prereleases=True), (
                f'{req.name} {version} is installed but setup.py asks for '
                f'{req.specifier}')


def test_stack_pins_fit_setup_py():
    bounds = {r.name.lower(): r.specifier for r in setup_requirements()}
    for req in requirement_lines('stack.txt'):
        pinned = [s.version for s in req.specifier if s.operator == '==']
        if pinned and req.name.lower() in bounds:
            assert bounds[req.name.lower()].contains(pinned[0]), (
                f'requirements/stack.txt pins {req} outside the range '
                f'{bounds[req.name.lower()]} of setup.py')
