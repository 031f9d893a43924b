"""The licence files agree with the package metadata, and every third-party
data folder under ``tests/data`` carries its own licence."""
import os.path as osp
import re

import yaml

from tests.paths import ROOT


def read(*parts: str) -> str:
    with open(osp.join(ROOT, *parts)) as f:
        return f.read()


def test_license_file_is_the_one_setup_py_names():
    declared = re.search(r"license='([^']+)'", read('setup.py')).group(1)
    assert declared == 'Apache License 2.0'
    text = read('LICENSE')
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'END OF TERMS AND CONDITIONS' in text


def test_bundled_deeplabcut_frames_keep_their_lgpl_notice():
    folder = ('tests', 'data', 'deeplabcut')
    assert osp.isdir(osp.join(ROOT, *folder, 'Reaching-Mackenzie-2018-08-30'))
    assert 'GNU LESSER GENERAL PUBLIC LICENSE' in read(*folder, 'LICENSE')
    assert 'Version 3, 29 June 2007' in read(*folder, 'LICENSE')
    notice = read(*folder, 'NOTICE')
    assert 'github.com/DeepLabCut/DeepLabCut' in notice
    assert 'Lesser General Public License v3.0' in notice


def test_citation_file_names_the_paper_and_this_software():
    cff = yaml.safe_load(read('CITATION.cff'))
    assert cff['cff-version'] == '1.2.0'
    assert cff['type'] == 'software'
    assert cff['license'] == 'Apache-2.0'
    paper = cff['preferred-citation']
    assert paper['type'] == 'conference-paper'
    assert 'CLAMP' in paper['title']
    assert paper['year'] == 2023
    assert [a['family-names']
            for a in paper['authors']][:2] == ['Zhang', 'Wang']
    version = re.search(r"__version__ = '([^']+)'",
                        read('promptpose_mm', 'version.py')).group(1)
    assert cff['version'] == version
