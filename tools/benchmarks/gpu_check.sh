#!/usr/bin/env bash
# GPU check of wsvision's fused ops, in one run on a machine with an NVIDIA GPU
# (H100/H200, CUDA 13):
#   1. a Python environment with torch 2.14.1 (a fresh venv from the package
#      registry; without registry access, the machine's own python3 and torch);
#   2. the ops built by setup.py with their CUDA kernels;
#   3. pytest tests/ops and the AGMM loss terms (the CUDA tests included);
#   4. tools/benchmarks/bench_gmm.py --device cuda --setting voc (the op);
#   5. tools/benchmarks/bench_agmm_loss.py --device cuda --setting voc --step
#      --profile (the whole AGMM loss path, a training step with each loss
#      path, and an operator profile of the fused paths; WSV_ANCHOR=PATH to
#      agmm_reference_h200.json adds the speed-up over its reference step);
#   6. the rest of the test suite (pytest tests, tests/ops aside) with the GPU
#      visible, so every method's training tests run on CUDA (the Runner puts
#      the model on the GPU); pytest-xdist workers when it is installed
#      (WSV_TEST_WORKERS, default: all cores but two), one line per test in
#      pytest_suite.log. Tests that need Fashion-MNIST skip without it: point
#      WSV_FASHION_MNIST at a copy of its four IDX files.
# Every step runs under a time limit; a failed step is reported and the next
# one still runs. Logs, JSON results and profiles go to $OUT (default
# work_dirs/gpu_check). About 9 minutes at most. The CPU figures are measured
# on a CPU machine (bench_gmm.py --device cpu), not here.
#
# Usage: bash tools/benchmarks/gpu_check.sh
# Without registry access, put the wheels that the machine's python lacks in
# .whl/ first, built for its Python (for example mmengine, addict, termcolor,
# yapf, platformdirs and pycocotools: `pip download --no-deps --only-binary=:all:
# --python-version 3.12 --platform manylinux2014_x86_64 -d .whl mmengine==0.10.7
# ...`); WSV_GPU_VENV=system skips the registry and uses the machine's python3
# at once.
set -u
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$REPO/work_dirs/gpu_check}
VENV=${WSV_GPU_VENV:-/tmp/wsvision-gpu-venv}
WHEELS=${WSV_WHEELS:-$REPO/.whl}
mkdir -p "$OUT"
cd "$REPO" || exit 1
export PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
export TORCH_EXTENSIONS_DIR=/tmp/wsvision-torch-extensions
# torch guesses CUDA_HOME from the nvcc on the PATH, which may be a wrapper.
if [ -z "${CUDA_HOME:-}" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDA_HOME=/usr/local/cuda
fi

SUMMARY=()
FAILED=0
DEADLINE=$((SECONDS + ${WSV_GPU_CHECK_SECONDS:-560}))
# step NAME SECONDS COMMAND...: run one step under a time limit (cut to what is
# left of the whole run's budget) and record its rc; 124 means it timed out.
step() {
  local name=$1 limit=$2 start=$SECONDS rc left
  shift 2
  left=$((DEADLINE - SECONDS))
  [ "$limit" -le "$left" ] || limit=$left
  echo "=== [$(date +%T)] $name (limit ${limit}s)"
  if [ "$limit" -lt 15 ]; then
    rc=124
    echo "skipped: the run's time budget is spent"
  else
    timeout --kill-after=10 "$limit" "$@"
    rc=$?
  fi
  echo "=== $name: rc=$rc in $((SECONDS - start))s"
  SUMMARY+=("$name: rc=$rc ($((SECONDS - start))s)")
  [ "$rc" -eq 0 ] || FAILED=1
  return "$rc"
}

make_venv() {
  rm -rf "$VENV" && python3 -m venv "$VENV" &&
    "$VENV/bin/pip" install -q --retries 1 --timeout 20 \
      torch==2.14.1 torchvision==0.29.1 mmengine==0.10.7 numpy scipy pytest ninja setuptools wheel
}

# The machine's python3 (with its torch) plus any wheels carried in .whl/.
use_machine_python() {
  PY=python3
  if [ -d "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/wsvision-site "$WHEELS"/*.whl || return 1
    export PYTHONPATH=/tmp/wsvision-site${PYTHONPATH:+:$PYTHONPATH}
  fi
}

install_ops() {
  WSV_WITH_OPS=1 "$PY" -m pip install --no-build-isolation --no-deps -e . ||
    { echo "pip install -e failed; building in place instead";
      WSV_WITH_OPS=1 "$PY" setup.py build_ext --inplace; }
}
export VENV
export -f make_venv install_ops

main() {
  step "machine" 30 bash -c 'nvidia-smi; python3 --version; nvcc --version | tail -n 2; nproc'

  PY=$VENV/bin/python
  echo "=== [$(date +%T)] venv with torch 2.14.1 (limit 240s)"
  if [ "$VENV" != system ] && timeout --kill-after=10 240 bash -c make_venv; then
    SUMMARY+=("venv: torch 2.14.1 from the registry")
  else
    echo "no venv from the registry: using the machine's python3"
    SUMMARY+=("venv: unavailable, the machine's python3 instead")
    use_machine_python
  fi
  export PY PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
  step "python environment" 60 "$PY" -c 'import torch, mmengine, pytest
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())'

  step "build ops (setup.py, CUDA)" 240 bash -c install_ops
  step "ops info" 150 "$PY" -m wsvision.ops.info
  step "pytest tests/ops" 200 "$PY" -m pytest tests/ops tests/agmm/test_agmm_terms.py -q -rs \
    -p no:cacheprovider --junitxml="$OUT/pytest_ops.xml"
  step "benchmark (voc, cuda)" 150 "$PY" tools/benchmarks/bench_gmm.py --device cuda \
    --setting voc --out "$OUT" --plot
  step "AGMM loss path and training step (voc, cuda)" 180 "$PY" \
    tools/benchmarks/bench_agmm_loss.py --device cuda --setting voc --step --profile --out "$OUT" \
    ${WSV_ANCHOR:+--anchor "$WSV_ANCHOR"}
  local workers=()
  "$PY" -c 'import xdist' 2>/dev/null &&
    workers=(-n "${WSV_TEST_WORKERS:-$(($(nproc) > 3 ? $(nproc) - 2 : 1))}" --dist loadfile)
  # One line per test in its own log, so a run cut short still says which passed.
  step "pytest, the rest of the suite on the GPU" 300 bash -c '"$0" -m pytest tests \
    --ignore=tests/ops -v -rfE -p no:cacheprovider -p no:benchmark "${@:2}" >"$1" 2>&1;
    rc=$?; grep -E "^(FAILED|ERROR) |^=+ .* in [0-9.]+s" "$1"; exit $rc' \
    "$PY" "$OUT/pytest_suite.log" "${workers[@]}"

  echo "=== summary"
  printf '  %s\n' "${SUMMARY[@]}"
  ls -l "$OUT"
  return "$FAILED"
}

main 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
