"""The repository's paths the tests read, defined once (not a test module),
and :func:`load_tool`, which imports a tool script by its path.

Every test module imports its paths from here, whatever its depth under
``tests/``; ``conftest.py`` hands the same ones out as fixtures.
"""
import glob
import importlib.util
import os.path as osp
from types import ModuleType

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs')
PROMPTPOSE_CONFIGS = osp.join(CONFIG_DIR, 'promptpose')
DATA = osp.join(ROOT, 'tests', 'data')
AP10K = osp.join(DATA, 'ap10k')
# a real DeepLabCut project (a reaching mouse; see tests/data/README.md)
REACHING = osp.join(DATA, 'deeplabcut', 'Reaching-Mackenzie-2018-08-30')
# the tiny CPU config (CLIP ResNet), by its short name
TINY = osp.join(CONFIG_DIR, 'promptpose_tiny_ap10k.py')
# a tiny config per backbone: the same architectures as
# promptpose_mm.testing.TINY_CLIP_SPECS, random weights, the bundled data
TINY_CONFIGS = dict(
    resnet=TINY,
    vit=osp.join(PROMPTPOSE_CONFIGS,
                 'td-hm_promptpose-tiny-clip-vit_1xb2-500e_ap10k-256x256.py'))
# the SimpleBaseline twin of the tiny config (same backbone, no prompts)
TINY_BASELINE = osp.join(PROMPTPOSE_CONFIGS,
                         'td-hm_clip-tiny-rn_1xb2-500e_ap10k-256x256.py')
# every shipped config: the short names and the paper's (and tiny) ones
CONFIG_FILES = sorted(
    glob.glob(osp.join(CONFIG_DIR, '*.py')) +
    glob.glob(osp.join(PROMPTPOSE_CONFIGS, '*.py')))


def load_tool(relative_path: str) -> ModuleType:
    """Import ``tools/<relative_path>`` (a script, not a package) afresh."""
    path = osp.join(ROOT, 'tools', relative_path)
    name = 'tool_' + relative_path[:-3].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
