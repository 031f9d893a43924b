"""Files written whole or not at all.

Every writer of :mod:`promptpose_mm.io` writes to a temporary name in the
target's folder first and renames the result into place when it is
complete, so an interrupted write leaves the old file or none, never half
of one. The temporary name keeps the target's extension (``.h5``,
``.analysis.h5``, ``.json``, ...), since some writers choose the format by
it.
"""
import json
import os
import os.path as osp
from typing import Callable


def atomic_write(path: str, write: Callable[[str], None]) -> str:
    """Run ``write(temporary path)`` and rename the result to ``path``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = osp.splitext(osp.basename(path))
    if stem.endswith('.analysis'):
        stem, ext = stem[:-len('.analysis')], '.analysis' + ext
    partial = osp.join(folder, f'.{stem}.partial{ext}')
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if osp.exists(partial):
            os.remove(partial)
    return path


def write_json_atomic(path: str, data: object) -> str:
    """Write JSON through a temporary file renamed into place: an
    interrupted write leaves the old file or none, never half of one."""

    def write(partial: str) -> None:
        with open(partial, 'w') as file:
            json.dump(data, file)

    return atomic_write(path, write)
