"""Model-zoo metadata: every entry names a shipped config that builds (the
config tests train and predict with each), reports the paper's numbers as
the paper's, and ``mim search`` lists the entries."""
import os.path as osp
import subprocess
import sys

import pytest
import yaml
from mmengine.config import Config
from mmpose.registry import MODELS

import promptpose_mm  # noqa: F401
from tests.paths import CONFIG_FILES, ROOT
from tests.test_configs.recipes import RECIPES


def model_entries() -> list:
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    entries = []
    for metafile in index['Import']:
        with open(osp.join(ROOT, metafile)) as f:
            entries += yaml.safe_load(f)['Models']
    return entries


def test_every_entry_points_to_a_config_that_builds():
    entries = model_entries()
    assert len(entries) >= 14
    built_by_config_tests = {osp.relpath(path, ROOT) for path in CONFIG_FILES}
    for entry in entries:
        config = entry['Config']
        assert osp.basename(config) == entry['Name'] + '.py'
        assert config in built_by_config_tests, config
        cfg = Config.fromfile(osp.join(ROOT, config))
        for part in ('backbone', 'neck', 'head'):
            if cfg.model.get(part):
                assert MODELS.get(cfg.model[part].type), (config, part)
        for result in entry['Results']:
            assert 'reported by the' in result['Notes']
            assert 0 < result['Metrics']['AP'] < 1
        # weights only where a real checkpoint is published
        assert 'Weights' not in entry


def test_entries_report_the_papers_numbers():
    """One entry per paper config with an AP-10K number (the paper's
    tables), with that number and its table."""
    entries = {entry['Name']: entry for entry in model_entries()}
    reported = {
        name: row
        for name, row in RECIPES.items() if row.ap is not None
    }
    assert sorted(entries) == sorted(reported)
    assert len(entries) == 24
    for name, row in reported.items():
        (result, ) = entries[name]['Results']
        assert result['Dataset'] == 'AP-10K'
        assert result['Metrics']['AP'] == row.ap, name
        assert f'({row.table}' in result['Notes'], name
        data = entries[name]['Metadata']['Training Data']
        assert data.startswith('COCO, then AP-10K') == row.coco_pre, name
        few_shot = row.data == 'ap10k-20shot'
        assert ('20 instances per species' in data) == few_shot, name


# The paper's AP-10K val AP (%), transcribed from its Tables 1-4 as
# published, independently of tests/test_configs/recipes.py and the
# metafiles: {table: {(method, backbone): AP}}; ImageNet = SimpleBaseline
# from ImageNet weights, CLIP = SimpleBaseline from CLIP weights.
PUBLISHED = {
    'Table 1': {
        ('ImageNet', 'rn50'): 70.2,
        ('CLIP', 'rn50'): 70.9,
        ('PromptPose', 'rn50'): 72.9,
        ('CLIP', 'vit-b16'): 72.6,
        ('PromptPose', 'vit-b16'): 73.1
    },
    'Table 2': {
        ('ImageNet', 'rn50'): 51.1,
        ('CLIP', 'rn50'): 51.8,
        ('PromptPose', 'rn50'): 54.0,
        ('CLIP', 'vit-b16'): 57.4,
        ('PromptPose', 'vit-b16'): 58.6
    },
    'Table 3': {
        ('ImageNet', 'rn50'): 72.4,
        ('CLIP', 'rn50'): 74.4,
        ('PromptPose', 'rn50'): 75.2,
        ('CLIP', 'vit-b16'): 73.9,
        ('PromptPose', 'vit-b16'): 74.2
    },
    'Table 4': {
        ('ImageNet', 'rn50'): 60.7,
        ('CLIP', 'rn50'): 62.4,
        ('PromptPose', 'rn50'): 62.6,
        ('CLIP', 'vit-b16'): 63.8,
        ('PromptPose', 'vit-b16'): 64.1
    },
}
# Table 5 (CLIP ResNet-50, supervised): the ablation configs' suffixes
ABLATION = {
    'pixel': 72.1,
    'pixel-semantic': 72.6,
    'pixel-promptenc': 72.3,
    'all': 72.9
}


def published_ap(name: str) -> float:
    """The published AP of a config, found from its name alone."""
    import re
    match = re.match(
        r'td-hm_(promptpose-)?(clip-)?(rn50|vit-b16|res50)'
        r'(?:-([a-z-]+))?_(coco-pre_)?8xb\d+-210e_ap10k-'
        r'(20shot-)?256x256$', name)
    assert match, name
    prompt, clip, backbone, ablation, coco, shot = match.groups()
    if ablation:
        return ABLATION[ablation]
    method = 'PromptPose' if prompt else 'CLIP' if clip else 'ImageNet'
    table = 1 + bool(shot) + 2 * bool(coco)
    key = (method, 'rn50' if backbone == 'res50' else backbone)
    return PUBLISHED[f'Table {table}'][key]


def test_entries_match_the_published_tables():
    entries = model_entries()
    assert len(entries) == 24
    for entry in entries:
        (result, ) = entry['Results']
        assert result['Metrics']['AP'] == pytest.approx(
            published_ap(entry['Name']) / 100, abs=1e-9), entry['Name']


@pytest.mark.slow  # runs mim
def test_mim_search_lists_the_models():
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    proc = subprocess.run([mim, 'search', 'promptpose_mm'],
                          cwd='/',
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for entry in model_entries():
        assert f'config id: {entry["Name"]}' in proc.stdout
