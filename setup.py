"""Install wsvision.

The fused operators in ``wsvision/ops`` are compiled here when a compiler is
present (``WSV_WITH_OPS=1|0|auto``, default ``auto``). Installation never fails
because of them: without a build they are JIT-compiled on first use, and
failing that the PyTorch reference is used (see ``python -m wsvision.ops.info``).
Install with ``pip install --no-build-isolation -e .`` so the build sees torch.
"""
import os
import re
import runpy
import shutil

from setuptools import find_packages, setup


def read_requirements(name):
    path = os.path.join(os.path.dirname(__file__), 'requirements', name)
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


def get_version():
    with open(os.path.join('wsvision', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def ops_build_kwargs():
    """Extension modules and build command for the fused operators, or none.

    ``WSV_WITH_OPS=1`` builds ``wsvision.ops._C`` and fails the install if that
    fails; ``0`` skips it; ``auto`` (default) builds it when a C++ compiler is
    found and only prints one warning line if the build fails. The CUDA
    kernels are compiled in when torch finds the CUDA toolkit and there is an
    architecture to build for: a visible GPU or ``TORCH_CUDA_ARCH_LIST``.
    """
    mode = os.environ.get('WSV_WITH_OPS', 'auto').strip().lower()
    if mode not in ('0', '1', 'auto'):
        raise ValueError(f'WSV_WITH_OPS must be 0, 1 or auto, got {mode!r}')
    if mode == '0':
        return {}

    def skip(reason):
        if mode == '1':
            raise RuntimeError(f'WSV_WITH_OPS=1 but the ops cannot be built: {reason}')
        print(f'WARNING: wsvision.ops not compiled ({reason}); they are JIT-compiled on '
              'first use, or the PyTorch reference runs (python -m wsvision.ops.info)')
        return {}

    try:
        import torch
        from torch.utils import cpp_extension
    except ImportError as exc:
        return skip(f'torch is not importable: {exc}; install with --no-build-isolation')
    if shutil.which((os.environ.get('CXX') or 'c++').split()[0]) is None:
        return skip('no C++ compiler found')

    ops_dir = os.path.join('wsvision', 'ops')
    config = runpy.run_path(os.path.join(ops_dir, 'sources.py'))
    toolkit = cpp_extension.CUDA_HOME and os.path.exists(
        os.path.join(cpp_extension.CUDA_HOME, 'include', 'cuda_runtime.h'))
    with_cuda = bool(toolkit) and (torch.cuda.is_available()
                                   or bool(os.environ.get('TORCH_CUDA_ARCH_LIST')))
    sources = list(config['CPP_SOURCES'])
    extension = cpp_extension.CppExtension
    compile_args = {'cxx': list(config['CXX_FLAGS'])}
    if with_cuda:
        sources += config['CUDA_SOURCES']
        extension = cpp_extension.CUDAExtension
        compile_args['cxx'].append(config['CUDA_DEFINE'])
        compile_args['nvcc'] = [*config['NVCC_FLAGS'], config['CUDA_DEFINE']]
    print(f'wsvision.ops: compiling the C++ kernels{" and CUDA kernels" if with_cuda else ""}')
    ext = extension(
        'wsvision.ops._C', [os.path.join(ops_dir, name) for name in sources],
        extra_compile_args=compile_args, extra_link_args=list(config['LINK_FLAGS']))

    class BuildOps(cpp_extension.BuildExtension):
        """Builds the ops; in ``auto`` mode a failure only prints a warning."""

        def run(self):
            try:
                super().run()
            except Exception as exc:  # noqa: BLE001 - any build error, by design
                if mode == '1':
                    raise
                lines = str(exc).strip().splitlines()
                skip(f'build failed: {type(exc).__name__}: {lines[0] if lines else ""}')

    return {'ext_modules': [ext], 'cmdclass': {'build_ext': BuildOps}}


setup(
    name='wsvision',
    version=get_version(),
    description='Weakly-supervised segmentation and detection on current PyTorch',
    long_description=open('README.md').read() if os.path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    include_package_data=True,
    python_requires='>=3.10',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'optional': read_requirements('optional.txt'),
        'tests': read_requirements('tests.txt'),
    },
    zip_safe=False,
    **ops_build_kwargs(),
)
