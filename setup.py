"""Packaging of promptpose_mm, an MMPose 1.x plugin for PromptPose."""
import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'promptpose_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>``, comments dropped."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def add_mim_extension() -> None:
    """Expose configs, tools and model-index.yml to ``mim`` under
    ``promptpose_mm/.mim``: symbolic links for an editable install, copies
    for a wheel or sdist, the way OpenMMLab packages do it."""
    if any(cmd in sys.argv for cmd in ('develop', 'editable_wheel')):
        mode = 'symlink'
    elif any(
            cmd in sys.argv
            for cmd in ('install', 'bdist_wheel', 'sdist', 'build')):
        mode = 'copy'
    else:
        return
    mim_root = osp.join(HERE, 'promptpose_mm', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_root, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_root), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='promptpose_mm',
        version=read_version(),
        description='PromptPose (language-prompted animal pose estimation) '
        'as an MMPose 1.x plugin',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        keywords='pose estimation, animal pose, CLIP, prompt learning, mmpose',
        packages=find_packages(
            exclude=('configs', 'tools', 'tests', 'tests.*', 'benchmarks',
                     'benchmarks.*')),
        include_package_data=True,
        package_data={'promptpose_mm': ['.mim/**/*', '.mim/*']},
        python_requires='>=3.8',
        license='Apache License 2.0',
        classifiers=[
            'License :: OSI Approved :: Apache Software License',
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Image Recognition',
        ],
        # Bounded to what the code uses (requirements/stack.txt pins the
        # exact versions the tests run on): torch >= 2.4 for
        # torch.serialization.add_safe_globals; open_clip >= 2.26 for its
        # batch-first transformer blocks
        # (tests/test_models/test_open_clip_compat.py checks every internal
        # the code reaches).
        install_requires=[
            'torch>=2.4,<2.15',
            'numpy>=1.25,<3',
            'mmengine>=0.10.0,<0.11.0',
            'mmcv>=2.0.0,<2.2.0',
            'mmpose>=1.3.0,<1.4.0',
            'open_clip_torch>=2.26,<4',
            'pyyaml>=6,<7',
            'pandas>=2.0,<4',
            'tables>=3.8,<4',
            'sleap-io>=0.9,<0.10',
            'tqdm>=4.60,<5',
        ],
        extras_require={
            'tests':
            read_requirements('tests.txt'),
            'detection': ['mmdet>=3.0.0,<3.4.0'],
            # ONNX export and onnxruntime inference (tools/deployment/)
            'deploy': [
                'onnx>=1.17,<1.24', 'onnxscript>=0.5,<0.8',
                'onnxruntime>=1.20,<1.32'
            ],
        },
        zip_safe=False)
