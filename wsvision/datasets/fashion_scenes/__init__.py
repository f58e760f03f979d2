"""FashionScenes: a segmentation / detection / person-search benchmark built
offline and deterministically from Fashion-MNIST (see docs/benchmarks.md).

``build_fashion_scenes`` writes the core splits (layout in ``builder``);
``build_variant`` writes the fewshot, ovd, foggy and person_search variants
under ``OUT/<variant>/`` (layouts in the module of each variant).
"""
from .builder import PRESETS, build_fashion_scenes, build_mismatch
from .source import FASHION_CLASSES, SEG_CLASSES, load_fashion_mnist
from .variants import VARIANTS, build_variant

__all__ = ['FASHION_CLASSES', 'SEG_CLASSES', 'PRESETS', 'VARIANTS',
           'build_fashion_scenes', 'build_mismatch', 'build_variant',
           'load_fashion_mnist']
