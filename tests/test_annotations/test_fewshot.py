"""N-shot-per-species annotation files (paper, Table 2) and their configs."""
import copy
import json
import os.path as osp
import runpy

import pytest
from mmengine.config import Config

from promptpose_mm.annotations import (FewShotSplitError, format_report,
                                       load_coco_annotations,
                                       make_fewshot_split,
                                       make_fewshot_split_file)
from tests.paths import ROOT

AP10K = osp.join(ROOT, 'tests', 'data', 'ap10k', 'test_ap10k.json')
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'make_fewshot_split.py')
CONFIGS = osp.join(ROOT, 'configs', 'promptpose')
# species id -> (name, instances with labelled keypoints, unlabelled ones)
SPECIES = {
    1: ('cat', 5, 2),
    2: ('dog', 3, 0),
    3: ('zebra', 8, 1),
    4: ('bat', 2, 4),
}


def synthetic_coco() -> dict:
    """A COCO keypoint file with known counts per species.

    Two instances per image, so that images hold several species; the
    unlabelled instances have ``num_keypoints`` 0 and all-zero keypoints.
    """
    anns = []
    for category_id, (_, labelled, unlabelled) in SPECIES.items():
        for index in range(labelled + unlabelled):
            num = 2 if index < labelled else 0
            anns.append(
                dict(
                    id=100 * category_id + index,
                    category_id=category_id,
                    num_keypoints=num,
                    keypoints=[10, 20, 2, 30, 40, 2, 0, 0, 0][:3 * 3]
                    if num else [0] * 9,
                    bbox=[0, 0, 50, 50],
                    area=2500,
                    iscrowd=0))
    for index, ann in enumerate(anns):
        ann['image_id'] = 1000 + index // 2
    images = [
        dict(
            id=1000 + index, file_name=f'{index:04d}.jpg', width=64, height=64)
        for index in range((len(anns) + 1) // 2)
    ]
    return dict(
        info=dict(description='synthetic'),
        licenses=[dict(id=1, name='none')],
        images=images,
        annotations=anns,
        categories=[
            dict(id=category_id, name=name, supercategory='animal')
            for category_id, (name, _, _) in SPECIES.items()
        ])


def kept_per_species(split: dict) -> dict:
    counts = {category_id: 0 for category_id in SPECIES}
    for ann in split['annotations']:
        counts[ann['category_id']] += 1
    return counts


def write_json(path, content) -> str:
    with open(path, 'w') as file:
        json.dump(content, file)
    return str(path)


# ---------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------
def test_counts_per_species_and_only_labelled_instances():
    coco = synthetic_coco()
    split, report = make_fewshot_split(coco, shots=2, seed=0)
    assert kept_per_species(split) == {1: 2, 2: 2, 3: 2, 4: 2}
    assert all(ann['num_keypoints'] > 0 for ann in split['annotations'])
    assert [(item.category_id, item.name, item.available, item.kept)
            for item in report] == [(1, 'cat', 5, 2), (2, 'dog', 3, 2),
                                    (3, 'zebra', 8, 2), (4, 'bat', 2, 2)]
    # bat has 6 instances but only 2 with labelled keypoints
    assert [item.kept for item in make_fewshot_split(coco, 3, 0, True)[1]
            ] == [3, 3, 3, 2]


def test_same_seed_same_split_other_seed_other_split():
    coco = synthetic_coco()
    original = copy.deepcopy(coco)
    first, _ = make_fewshot_split(coco, shots=3, seed=7, allow_fewer=True)
    again, _ = make_fewshot_split(coco, shots=3, seed=7, allow_fewer=True)
    other, _ = make_fewshot_split(coco, shots=3, seed=8, allow_fewer=True)
    assert first == again
    ids = [ann['id'] for ann in first['annotations']]
    assert ids != [ann['id'] for ann in other['annotations']]
    assert coco == original  # the input is not modified
    # a species' choice does not depend on the others
    fewer = dict(coco, categories=coco['categories'][2:3])
    fewer['annotations'] = [
        ann for ann in coco['annotations'] if ann['category_id'] == 3
    ]
    alone, _ = make_fewshot_split(fewer, shots=3, seed=7)
    assert [ann['id'] for ann in alone['annotations']] == [
        ann['id'] for ann in first['annotations'] if ann['category_id'] == 3
    ]


def test_images_are_exactly_those_of_the_kept_instances():
    coco = synthetic_coco()
    split, report = make_fewshot_split(coco, shots=3, seed=1, allow_fewer=True)
    image_ids = [image['id'] for image in split['images']]
    kept_images = {ann['image_id'] for ann in split['annotations']}
    assert len(image_ids) == len(set(image_ids))
    assert set(image_ids) == kept_images
    # the file's order and content are kept
    original = [
        image for image in coco['images'] if image['id'] in kept_images
    ]
    assert split['images'] == original
    ann_ids = [ann['id'] for ann in split['annotations']]
    assert ann_ids == sorted(ann_ids)
    for key in ('info', 'licenses', 'categories'):
        assert split[key] == coco[key]
    for item in report:
        assert item.images == len({
            ann['image_id']
            for ann in split['annotations']
            if ann['category_id'] == item.category_id
        })


def test_too_few_is_an_error_listing_them_unless_allowed():
    coco = synthetic_coco()
    with pytest.raises(FewShotSplitError) as info:
        make_fewshot_split(coco, shots=4, seed=0, source='train.json')
    message = str(info.value)
    assert message.startswith('train.json: 2 species have fewer than 4')
    assert 'dog (id 2): 3' in message and 'bat (id 4): 2' in message
    assert 'cat' not in message and '--allow-fewer' in message
    split, report = make_fewshot_split(coco, 4, seed=0, allow_fewer=True)
    assert kept_per_species(split) == {1: 4, 2: 3, 3: 4, 4: 2}
    table = format_report(report, 4)
    lines = table.splitlines()
    assert lines[0].split() == [
        'id', 'species', 'labelled', 'kept', 'images', 'note'
    ]
    assert lines[2].split() == [
        '2', 'dog', '3', '3', '2', 'fewer', 'than', '4:', 'kept', 'all'
    ]
    assert lines[1].split()[:4] == ['1', 'cat', '5', '4']
    assert lines[-1] == ('4 species, 13 instances kept (4 per species asked; '
                         '2 species with fewer)')


# ---------------------------------------------------------------------------
# The bundled AP-10K samples and the command line
# ---------------------------------------------------------------------------
def test_bundled_ap10k_one_shot(tmp_path):
    out = str(tmp_path / 'one.json')
    with pytest.raises(
            FewShotSplitError,
            match='52 species have fewer than '
            r'1 .*argali sheep \(id 2\): 0'):
        make_fewshot_split_file(AP10K, out, shots=1)
    assert not osp.exists(out)
    report = make_fewshot_split_file(AP10K, out, shots=1, allow_fewer=True)
    kept = {item.category_id: item.kept for item in report}
    assert len(kept) == 54 and sum(kept.values()) == 2
    assert kept[1] == 1 and kept[26] == 1  # antelope, jaguar
    with open(out) as file:
        split = json.load(file)
    with open(AP10K) as file:
        original = json.load(file)
    assert split == original  # one instance of each present species: all

    # MMPose reads the result like the original file
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    dataset = DATASETS.build(
        dict(
            type='AP10KDataset',
            data_root=osp.dirname(AP10K),
            data_mode='topdown',
            ann_file=out,
            data_prefix=dict(img=''),
            test_mode=True,
            pipeline=[]))
    assert len(dataset) == 2
    assert dataset.metainfo['num_keypoints'] == 17


def run_tool(monkeypatch, *args):
    monkeypatch.setattr('sys.argv', ['make_fewshot_split.py', *args])
    runpy.run_path(TOOL, run_name='__main__')


def test_command_line(tmp_path, monkeypatch, capsys):
    source = write_json(tmp_path / 'train.json', synthetic_coco())
    out = str(tmp_path / 'sub' / 'train-2shot.json')
    run_tool(monkeypatch, source, out, '--shots', '2', '--seed', '3')
    printed = capsys.readouterr().out
    assert '4 species, 8 instances kept (2 per species asked)' in printed
    assert f'written: {out} (seed 3)' in printed
    expected, _ = make_fewshot_split(synthetic_coco(), 2, seed=3)
    assert load_coco_annotations(out) == expected

    with pytest.raises(SystemExit) as info:
        run_tool(monkeypatch, source, out, '--shots', '4')
    assert str(info.value).startswith(f'error: {source}: 2 species')
    run_tool(monkeypatch, source, out, '--shots', '4', '--allow-fewer')
    assert 'fewer than 4: kept all' in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Malformed input
# ---------------------------------------------------------------------------
def drop_keypoint_fields(coco):
    for key in ('num_keypoints', 'keypoints'):
        del coco['annotations'][2][key]


def broken(change):
    coco = synthetic_coco()
    change(coco)
    return coco


@pytest.mark.parametrize('change,match', [
    (lambda c: c.pop('annotations'), "no 'annotations' list"),
    (lambda c: c.pop('categories'), "no 'categories' list"),
    (lambda c: c['annotations'][3].pop('category_id'),
     r"annotations\[3\] \(id 103\) has no 'category_id'"),
    (lambda c: c['annotations'][0].pop('image_id'),
     r"annotations\[0\] \(id 100\) has no 'image_id'"),
    (lambda c: c['annotations'][1].update(image_id=5),
     'image_id 5, which is not among'),
    (lambda c: c['annotations'][1].update(category_id=9),
     'category_id 9, which is not among'),
    (lambda c: c['annotations'][2].clear(), "has no 'category_id'"),
    (drop_keypoint_fields, "neither 'num_keypoints'"),
    (lambda c: c.update(images={}), "'images' must be a list")
])
def test_malformed_input_names_file_and_problem(tmp_path, change, match):
    path = write_json(tmp_path / 'bad.json', broken(change))
    with pytest.raises(FewShotSplitError, match=match) as info:
        make_fewshot_split_file(path, str(tmp_path / 'out.json'), shots=1)
    assert str(info.value).startswith(path + ': ')


def test_unreadable_files_and_bad_arguments(tmp_path):
    missing = str(tmp_path / 'none.json')
    with pytest.raises(FileNotFoundError, match='none.json: no such'):
        make_fewshot_split_file(missing, str(tmp_path / 'out.json'), 1)
    text = tmp_path / 'text.json'
    text.write_text('not json')
    with pytest.raises(FewShotSplitError, match='text.json: not a JSON'):
        load_coco_annotations(str(text))
    listed = write_json(tmp_path / 'list.json', [])
    with pytest.raises(FewShotSplitError, match='list.json: a COCO'):
        load_coco_annotations(listed)
    with pytest.raises(FewShotSplitError, match='shots must be a positive'):
        make_fewshot_split(synthetic_coco(), shots=0)
    source = write_json(tmp_path / 'train.json', synthetic_coco())
    with pytest.raises(FewShotSplitError, match='would overwrite the input'):
        make_fewshot_split_file(source, source, shots=1)
    # keypoints without num_keypoints: counted from the visibilities
    coco = synthetic_coco()
    for ann in coco['annotations']:
        del ann['num_keypoints']
    _, report = make_fewshot_split(coco, shots=2, seed=0)
    assert [item.available for item in report] == [5, 3, 8, 2]


# ---------------------------------------------------------------------------
# The 20-shot configs (Table 2)
# ---------------------------------------------------------------------------
# the paper (section 4.1): ResNet-50 batch 64, lr 5e-4; ViT-B batch 128,
# lr 5e-5
@pytest.mark.parametrize('backbone,lr,per_gpu', [('rn50', 5e-4, 8),
                                                 ('vit-b16', 5e-5, 16)])
def test_20shot_configs(backbone, lr, per_gpu):
    path = osp.join(
        CONFIGS, f'td-hm_promptpose-clip-{backbone}_8xb{per_gpu}-210e_'
        'ap10k-20shot-256x256.py')
    cfg = Config.fromfile(path)
    supervised = Config.fromfile(
        osp.join(
            CONFIGS, f'td-hm_promptpose-clip-{backbone}_8xb16-210e_ap10k-'
            '256x256.py'))
    assert cfg.train_dataloader.dataset.ann_file == (
        'annotations/ap10k-train-split1-20shot.json')
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.auto_scale_lr.base_batch_size == per_gpu * 8
    assert cfg.optim_wrapper.optimizer.lr == lr
    # otherwise the supervised recipe
    assert cfg.model == supervised.model
    assert cfg.val_dataloader == supervised.val_dataloader
    assert cfg.param_scheduler == supervised.param_scheduler
    assert cfg.train_cfg == supervised.train_cfg
    with open(path) as file:
        header = file.read()
    assert 'tools/dataset_converters/make_fewshot_split.py' in header
    assert 'ap10k-train-split1-20shot.json' in header
    assert '--shots 20 --seed 0' in header
