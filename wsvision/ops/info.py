"""Print which implementation of wsvision.ops runs on each device, and why.

    python -m wsvision.ops.info

Finding the kernels may JIT-compile them (1-2 minutes, once); run with
``WSV_OPS_JIT=0`` to report without building.
"""
import torch

from .backend import describe


def main():
    print(f'torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}')
    for device, line in describe().items():
        print(f'{device}: {line}')


if __name__ == '__main__':
    main()
