"""Files written whole or not at all (``io.atomic``)."""
import json
import os

import pytest

from promptpose_mm.io.atomic import write_json_atomic


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    path = str(tmp_path / 'train.json')
    write_json_atomic(path, dict(images=[]))
    with pytest.raises(TypeError):
        write_json_atomic(path, dict(images=[object()]))
    with open(path) as file:
        assert json.load(file) == dict(images=[])
    assert os.listdir(tmp_path) == ['train.json']
