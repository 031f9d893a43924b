"""The configs installed with the package, found from the code.

The repository's ``configs/`` folder is installed as
``promptpose_mm/.mim/configs`` (links in an editable install, copies in a
wheel; see setup.py), where ``mim`` finds it too.
"""
import os.path as osp
from typing import Dict

# the ImageNet-free PromptPose paper configs, by backbone
PAPER_CONFIGS: Dict[str, str] = {
    'rn50':
    'promptpose/td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py',
    'vit-b16':
    'promptpose/td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py',
}


def installed_config(name: str) -> str:
    """The path of an installed config, ``name`` relative to ``configs/``.

    Raises:
        FileNotFoundError: it is not installed; the message says what to
            pass instead.
    """
    import promptpose_mm
    root = osp.join(
        osp.dirname(osp.abspath(promptpose_mm.__file__)), '.mim', 'configs')
    path = osp.join(root, name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} is not installed (reinstall promptpose_mm, e.g. make '
            'env); or pass a config file explicitly')
    return path
