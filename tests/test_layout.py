"""The package's folders depend only downward.

Read from the source with ``ast`` (no import runs), so a violation is found
even in a function-level import.
"""
import ast
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, Set

import pytest

from tests.paths import ROOT

PACKAGE = osp.join(ROOT, 'promptpose_mm')

# What each subpackage may import of the package. The model, its inference
# and the lab tools' file formats (the first eight) never import the
# tooling: the analysis, the label import, the test fixtures or tools/.
ALLOWED = {
    'utils': set(),
    'models': {'utils'},
    'engine': {'utils'},
    'apis': {'models', 'utils', 'engine', 'deployment'},
    'deployment': {'models', 'utils'},
    'converters': {'apis', 'models', 'utils', 'version'},
    'visualization': set(),
    'io': {'utils'},
    'annotations': {'io', 'utils'},
    'analysis': {'annotations', 'apis', 'io', 'models', 'utils'},
    'testing': {'io', 'models', 'utils'},
}
MODEL = ('utils', 'models', 'engine', 'apis', 'deployment', 'converters',
         'visualization', 'io')
TOOLING = ('analysis', 'annotations', 'testing')


def imported_names(path: str, module: str) -> Set[str]:
    """Absolute names of every module ``path`` imports (any nesting)."""
    package = module if path.endswith('__init__.py') else \
        module.rpartition('.')[0]
    names = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ''
            names.add(base)
            names.update(f'{base}.{alias.name}' for alias in node.names)
    return names


def package_imports() -> Dict[str, Dict[str, Set[str]]]:
    """``{subpackage: {file: imported promptpose_mm subpackages}}`` and the
    files importing ``tools``."""
    found: Dict[str, Dict[str, Set[str]]] = defaultdict(dict)
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            rel = osp.relpath(path, ROOT)
            module = rel[:-3].replace(os.sep, '.')
            if module.endswith('.__init__'):
                module = module[:-len('.__init__')]
            parts = module.split('.')
            if len(parts) < 3 and name != '__init__.py':
                continue  # version.py
            if len(parts) < 2:
                continue  # the package's own __init__
            own = parts[1]
            targets = set()
            for imported in imported_names(path, module):
                head, _, rest = imported.partition('.')
                if head in ('tools', 'benchmarks'):
                    targets.add(head)
                elif head == 'promptpose_mm' and rest:
                    targets.add(rest.split('.')[0])
            found[own][rel] = targets - {own}
    return found


IMPORTS = package_imports()


def test_every_subpackage_is_listed():
    assert set(IMPORTS) == set(ALLOWED), (
        'a new subpackage needs its place in ALLOWED (what it may import)')


@pytest.mark.parametrize('subpackage', sorted(ALLOWED))
def test_subpackage_depends_only_downward(subpackage):
    bad = {
        path: sorted(targets - ALLOWED[subpackage])
        for path, targets in IMPORTS[subpackage].items()
        if targets - ALLOWED[subpackage]
    }
    assert not bad, (f'{subpackage} may import only '
                     f'{sorted(ALLOWED[subpackage])} of the package: {bad}')


def test_the_model_imports_no_tooling():
    for subpackage in MODEL:
        for path, targets in IMPORTS[subpackage].items():
            assert not targets & set(TOOLING + ('tools', )), (path, targets)
    assert not set(TOOLING) & set().union(*(ALLOWED[s] for s in MODEL))


IMPORT_PROBE = """
import json, sys
import torch, torch.distributed as dist
import mmengine.runner, mmpose.apis, mmpose.models, mmpose.datasets
from mmengine.runner import CheckpointLoader
from mmpose.registry import HOOKS, MODELS

UPSTREAM = ('torch', 'mmengine', 'mmpose', 'mmcv')


def snapshot():
    \"\"\"id of every function and class in the upstream modules loaded so
    far, and of every attribute of those classes.\"\"\"
    seen = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split('.')[0] not in UPSTREAM:
            continue
        for attr, value in list(vars(module).items()):
            if not callable(value):
                continue
            seen[f'{name}.{attr}'] = id(value)
            if isinstance(value, type) and value.__module__ == name:
                for key, member in list(vars(value).items()):
                    if callable(member) or isinstance(
                            member, (classmethod, staticmethod, property)):
                        seen[f'{name}.{attr}.{key}'] = id(member)
    for prefix, loader in CheckpointLoader._schemes.items():
        seen[f'CheckpointLoader scheme {prefix!r}'] = id(loader)
    return seen


before = snapshot()
globals_before = set(map(str, torch.serialization.get_safe_globals()))
import promptpose_mm
after = snapshot()
print(json.dumps(dict(
    modules=sorted(m for m in sys.modules if m.startswith('promptpose_mm.')),
    safe_globals=len(set(map(str, torch.serialization.get_safe_globals()))
                     - globals_before),
    compared=len(before),
    replaced=sorted(k for k in before if after.get(k) != before[k]),
    process_group=dist.is_initialized(),
    registered=['PromptPoseEstimator' in MODELS.module_dict,
                'DatasetKeypointsHook' in HOOKS.module_dict],
)))
"""


@pytest.mark.slow  # a subprocess
def test_what_importing_the_plugin_changes():
    """Exactly what ``promptpose_mm/__init__.py`` lists: registries and the
    checkpoint allow-list; no function or class of torch, MMEngine, MMPose
    or MMCV replaced; no process group outside torchrun; no analysis,
    annotation or apis module."""
    import json
    import subprocess
    import sys
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                       'MASTER_PORT')
    }
    out = subprocess.run([sys.executable, '-c', IMPORT_PROBE],
                         capture_output=True,
                         text=True,
                         check=True,
                         cwd=ROOT,
                         env=env).stdout
    found = json.loads(out.strip().splitlines()[-1])
    assert 'promptpose_mm.models.heads.promptpose_head' in found['modules']
    for module in found['modules']:
        assert module.split('.')[1] not in TOOLING + ('apis', ), module
    assert found['safe_globals'] > 0
    assert found['compared'] > 10000  # the probe saw the upstream code
    assert found['replaced'] == []
    assert not found['process_group']
    assert found['registered'] == [True, True]


def test_benchmarks_are_not_installed():
    """benchmarks/ (measurements) stays out of the wheel; the package never
    imports it (test_subpackage_depends_only_downward)."""
    import ast
    from setuptools import find_packages
    tree = ast.parse(open(osp.join(ROOT, 'setup.py')).read())
    [call] = [
        node for node in ast.walk(tree) if isinstance(node, ast.Call)
        and getattr(node.func, 'id', None) == 'find_packages'
    ]
    exclude = ast.literal_eval(call.keywords[0].value)
    packages = find_packages(ROOT, exclude=exclude)
    assert 'promptpose_mm.models' in packages
    assert not [p for p in packages if p.split('.')[0] != 'promptpose_mm']


def test_the_checker_sees_a_violation(tmp_path):
    """The scan finds a function-level and a relative import."""
    path = tmp_path / 'mod.py'
    path.write_text('def f():\n    from ..analysis import benchmark\n'
                    'import tools.demo\n')
    names = imported_names(str(path), 'promptpose_mm.models.mod')
    assert 'promptpose_mm.analysis.benchmark' in names
    assert 'tools.demo' in names
