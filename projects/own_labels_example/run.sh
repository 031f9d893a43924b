#!/usr/bin/env bash
# Import the bundled 5-frame DeepLabCut project, train PromptPose with the
# tiny backbone for a few epochs on the CPU, then analyse a video of it.
# From the repository root: bash projects/own_labels_example/run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:-$ROOT/work_dirs/own_labels_example}"
PY="${PY:-$ROOT/.venv/bin/python}"
MIM="$(dirname "$PY")/mim"

"$PY" "$ROOT/tools/dataset_converters/import_labels.py" \
    "$ROOT/tests/data/deeplabcut/Reaching-Mackenzie-2018-08-30" "$OUT/data" \
    --base-config "$ROOT/configs/promptpose_tiny_ap10k.py" --batch-size 2 \
    --val-every 5
CONFIG=$(ls "$OUT"/data/*.py | grep -v metainfo.py)
"$MIM" train mmpose "$CONFIG" --work-dir "$OUT/train" \
    --cfg-options train_cfg.max_epochs="${EPOCHS:-20}" \
    train_cfg.val_interval="${VAL_INTERVAL:-10}"
