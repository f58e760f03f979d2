#!/usr/bin/env bash
# The main job: build FashionScenes (`cpu` preset), write the scribble weak
# labels, train AGMM on them, evaluate on the test split, and write PNG
# overlays of the predictions to the work dir. Re-running resumes where it
# stopped. Override CONFIG, DATA, WEAK or PYTHON from the environment, and add
# training overrides with OPTIONS (e.g. OPTIONS="train_cfg.max_iters=100").
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
DATA=${DATA:-data/fashion_scenes}
CONFIG=${CONFIG:-configs/agmm/agmm_deeplabv3plus_r18_fashionscenes-scribble.py}
WEAK=${WEAK:-scribbles}
WORK_DIR=work_dirs/$(basename "$CONFIG" .py)

# An existing build must be today's `cpu` preset (--check says what differs).
if [ -f "$DATA/meta.json" ]; then
    "$PYTHON" tools/data/build_fashion_scenes.py --preset cpu --out "$DATA" --check
else
    "$PYTHON" tools/data/build_fashion_scenes.py --preset cpu --out "$DATA"
fi
[ -d "$DATA/train/weak/$WEAK" ] || "$PYTHON" tools/data/make_weak_labels.py \
    --data "$DATA" --split train --type "$WEAK"
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --resume \
    --cfg-options "train_dataloader.dataset.data_root=$DATA" \
    "val_dataloader.dataset.data_root=$DATA" "test_dataloader.dataset.data_root=$DATA" \
    ${OPTIONS:-}
CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")
"$PYTHON" tools/test.py "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR" \
    --out "$WORK_DIR/test_metrics.json" --show-dir "$WORK_DIR/overlays" \
    --cfg-options "test_dataloader.dataset.data_root=$DATA"
"$PYTHON" - "$WORK_DIR/test_metrics.json" <<'PY'
import json, sys
metrics = json.load(open(sys.argv[1]))
print(f"test mIoU: {metrics['mIoU']:.4f}  (overlays: {sys.argv[1].rsplit('/', 1)[0]}/overlays)")
PY
