"""The package's folders depend only downward (issue 12, item 1).

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

# What each subpackage may import of the package. The model and its
# inference (the first seven) never import the tooling: the analysis, the
# annotation-file tools, the test fixtures or tools/.
ALLOWED = {
    'utils': set(),
    'models': {'utils'},
    'engine': {'utils'},
    'apis': {'models', 'utils', 'engine', 'deployment'},
    'deployment': {'models', 'utils'},
    'converters': {'apis', 'models', 'utils', 'version'},
    'visualization': set(),
    'annotations': {'utils'},
    'analysis': {'annotations', 'apis', 'models', 'utils'},
    'testing': {'models', 'utils'},
}
MODEL = ('utils', 'models', 'engine', 'apis', 'deployment', 'converters',
         'visualization')
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
                if head == 'tools':
                    targets.add('tools')
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
from mmengine.registry import (MODELS, OPTIM_WRAPPER_CONSTRUCTORS, RUNNERS,
                               VISUALIZERS)
from mmengine.runner import CheckpointLoader, Runner
before = set(map(str, torch.serialization.get_safe_globals()))
loader = CheckpointLoader._schemes['']
import promptpose_mm
after = set(map(str, torch.serialization.get_safe_globals()))
print(json.dumps(dict(
    modules=sorted(m for m in sys.modules if m.startswith('promptpose_mm.')),
    safe_globals=len(after - before),
    loader_replaced=CheckpointLoader._schemes[''] is not loader,
    loader_module=CheckpointLoader._schemes[''].__module__,
    process_group=dist.is_initialized(),
    runner='PromptPoseRunner' in RUNNERS.module_dict,
    from_cfg_wrapped=getattr(Runner.from_cfg, '_promptpose', False),
)))
"""


def test_what_importing_the_plugin_changes():
    """Exactly what ``promptpose_mm/__init__.py`` lists: registries, the
    checkpoint allow-list, the local checkpoint loader; no process group
    outside torchrun; no analysis, annotation or apis module."""
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
    assert found['loader_replaced']
    assert found['loader_module'] == 'promptpose_mm.utils.checkpoint'
    assert not found['process_group']
    assert found['runner']
    assert found['from_cfg_wrapped']


def test_the_checker_sees_a_violation(tmp_path):
    """The scan finds a function-level and a relative import."""
    path = tmp_path / 'mod.py'
    path.write_text('def f():\n    from ..analysis import benchmark\n'
                    'import tools.demo\n')
    names = imported_names(str(path), 'promptpose_mm.models.mod')
    assert 'promptpose_mm.analysis.benchmark' in names
    assert 'tools.demo' in names
