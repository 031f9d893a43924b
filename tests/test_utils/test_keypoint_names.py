"""Tests of keypoint names: humanizing, metainfo reading, resolution."""
import os.path as osp
import re

import pytest

from promptpose_mm.utils import (humanize_keypoint_name,
                                 keypoint_names_from_metainfo,
                                 resolve_keypoint_names)

AP10K = dict(from_file='configs/_base_/datasets/ap10k.py')
WORDS = re.compile(r'[a-z]+( [a-z]+)*')


@pytest.mark.parametrize('name, expected', [
    ('L_F_Paw', 'left front paw'),
    ('R_B_Elbow', 'right back elbow'),
    ('root_of_tail', 'root of tail'),
    ('Root of tail', 'root of tail'),
    ('left_eye', 'left eye'),
    ('L_EarBase', 'left ear base'),
    ('TailBase', 'tail base'),
    ('forelegL1', 'foreleg left 1'),
    ('Ankle_Left ', 'ankle left'),
    ('Head_Mid_Top', 'head mid top'),
    ('eyeL', 'eye left'),
    ('antennaTipL', 'antenna tip left'),
    ('face-12', 'face 12'),
    ('  Nose  ', 'nose'),
])
def test_humanize(name, expected):
    assert humanize_keypoint_name(name) == expected


def test_humanize_errors():
    with pytest.raises(ValueError, match='no letters or digits'):
        humanize_keypoint_name('_-_ ')
    with pytest.raises(TypeError, match='must be a str'):
        humanize_keypoint_name(3)


@pytest.mark.parametrize('dataset, num', [('ap10k', 17), ('animalpose', 20),
                                          ('ak', 23), ('horse10', 22),
                                          ('macaque', 17)])
def test_bundled_animal_datasets_become_words(dataset, num):
    names = keypoint_names_from_metainfo(
        dict(from_file=f'configs/_base_/datasets/{dataset}.py'))
    assert len(names) == num
    for name in names:
        assert WORDS.fullmatch(name), name
        # No abbreviation is left over.
        assert not set(name.split()) & {'l', 'r', 'f', 'b'}, name
    assert len(set(names)) == num  # still distinct


def test_ap10k_names_in_id_order():
    names = keypoint_names_from_metainfo(AP10K)
    assert names[:5] == [
        'left eye', 'right eye', 'nose', 'neck', 'root of tail'
    ]
    assert names[7] == 'left front paw'
    assert names[16] == 'right back paw'


def test_parsed_and_raw_metainfo_agree():
    import mmpose
    from mmengine import Config
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    parsed = parse_pose_metainfo(dict(AP10K))
    expected = keypoint_names_from_metainfo(AP10K)
    assert keypoint_names_from_metainfo(parsed) == expected
    path = osp.join(
        osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets',
        'ap10k.py')
    raw = Config.fromfile(path).dataset_info.to_dict()
    assert keypoint_names_from_metainfo(raw) == expected
    # A raw dict needs nothing but keypoint_info.
    minimal = dict(keypoint_info={
        1: dict(name='R_Eye'),
        0: dict(name='L_Eye')
    })
    assert keypoint_names_from_metainfo(minimal) == ['left eye', 'right eye']


def test_metainfo_errors(tmp_path):
    with pytest.raises(ValueError, match='from_file'):
        keypoint_names_from_metainfo(dict(dataset_name='x'))
    with pytest.raises(TypeError, match='must be a dict'):
        keypoint_names_from_metainfo(['L_Eye'])
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        keypoint_names_from_metainfo(dict(from_file='nowhere.py'))
    bad = tmp_path / 'not_metainfo.py'
    bad.write_text('dataset_info = dict(dataset_name="x")\n')
    with pytest.raises(ValueError, match='keypoint_info'):
        keypoint_names_from_metainfo(dict(from_file=str(bad)))
    with pytest.raises(ValueError, match='ids must be 0..1'):
        keypoint_names_from_metainfo(
            dict(keypoint_id2name={
                0: 'nose',
                2: 'tail'
            }))
    with pytest.raises(ValueError, match='num_keypoints=3'):
        keypoint_names_from_metainfo(
            dict(keypoint_id2name={0: 'nose'}, num_keypoints=3))


def test_resolve_keypoint_names():
    explicit = [f'part {i}' for i in range(17)]
    # The explicit list is used verbatim and overrides the metainfo.
    assert resolve_keypoint_names(explicit, AP10K, 17) == explicit
    assert resolve_keypoint_names(None, AP10K)[7] == 'left front paw'
    with pytest.raises(ValueError) as error:
        resolve_keypoint_names(explicit[:3], AP10K)
    message = str(error.value)
    assert 'keypoint_names (explicit list) gives 3' in message
    assert 'ap10k.py) gives 17' in message
    with pytest.raises(ValueError, match='num_keypoints gives 16'):
        resolve_keypoint_names(None, AP10K, num_keypoints=16)
    with pytest.raises(ValueError, match=r'metainfo=dict\(from_file='):
        resolve_keypoint_names(None, None, 17, owner='MyNeck')
    with pytest.raises(ValueError, match='non-empty strings'):
        resolve_keypoint_names('nose')
