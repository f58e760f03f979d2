"""Sources and compiler flags of the compiled kernels.

Read by ``setup.py`` (with ``runpy``, before the package can be imported) and
by the JIT build in :mod:`wsvision.ops.backend`, so both compile the same way.
Paths are relative to this folder.
"""
CPP_SOURCES = ('csrc/bindings.cpp', 'csrc/gmm_cpu.cpp', 'csrc/segment_sum_cpu.cpp',
               'csrc/pixel_losses_cpu.cpp')
CUDA_SOURCES = ('csrc/gmm_cuda.cu', 'csrc/segment_sum_cuda.cu', 'csrc/pixel_losses_cuda.cu')
# -fopenmp: at::parallel_for is inlined from ATen's OpenMP header.
CXX_FLAGS = ('-O3', '-fopenmp')
LINK_FLAGS = ('-fopenmp', )
NVCC_FLAGS = ('-O3', )
# Compiled in with the CUDA sources; bindings.cpp dispatches on it.
CUDA_DEFINE = '-DWITH_CUDA'
