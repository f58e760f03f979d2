"""Fused operators: PyTorch reference, C++ and CUDA kernels behind one function.

Importing this package compiles nothing; see :mod:`wsvision.ops.backend` for
how an implementation is chosen and ``python -m wsvision.ops.info``.
"""
from .class_mean import masked_class_mean
from .gmm import gmm_log_likelihood, naive_gmm_log_likelihood

__all__ = ['gmm_log_likelihood', 'masked_class_mean', 'naive_gmm_log_likelihood']
