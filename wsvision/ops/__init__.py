"""Fused operators: PyTorch reference, C++ and CUDA kernels behind one function.

Importing this package compiles nothing; see :mod:`wsvision.ops.backend` for
how an implementation is chosen and ``python -m wsvision.ops.info``.
"""
from .class_mean import masked_class_mean
from .gmm import gmm_log_likelihood, naive_gmm_log_likelihood
from .pixel_losses import agmm_pixel_losses, naive_agmm_pixel_losses

__all__ = ['agmm_pixel_losses', 'gmm_log_likelihood', 'masked_class_mean',
           'naive_agmm_pixel_losses', 'naive_gmm_log_likelihood']
