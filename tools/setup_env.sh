#!/usr/bin/env bash
# Set up wsvision on a fresh Debian/Ubuntu machine: Fashion-MNIST from apt, a
# virtual environment in .venv, PyTorch, the requirements and wsvision itself
# (the fused operators are compiled when a compiler is present; installation
# never fails because of them).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq dataset-fashion-mnist
fi
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install -q -r requirements/runtime.txt \
    -r requirements/tests.txt -r requirements/optional.txt
.venv/bin/python -m pip install -q --no-build-isolation --no-deps -e .
.venv/bin/python -m wsvision.ops.info
