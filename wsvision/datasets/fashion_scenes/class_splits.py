"""Base / novel class splits shared by the fewshot and ovd variants.

Split s lists the three novel Fashion-MNIST classes; the other seven are base
classes. Category ids follow the core COCO files (label i -> id i + 1).
"""
from .source import FASHION_CLASSES

NOVEL_CLASSES = {
    1: ('shirt', 'sandal', 'bag'),
    2: ('pullover', 'sneaker', 'trouser'),
    3: ('coat', 'ankle boot', 'dress'),
}


def class_split(split: int) -> dict:
    """Names and category ids of the base and novel classes of ``split``."""
    if split not in NOVEL_CLASSES:
        raise ValueError(f'class split must be one of {sorted(NOVEL_CLASSES)}, '
                         f'got {split!r}')
    novel = NOVEL_CLASSES[split]
    base = tuple(name for name in FASHION_CLASSES if name not in novel)
    return {'base_classes': list(base),
            'base_ids': [FASHION_CLASSES.index(name) + 1 for name in base],
            'novel_classes': list(novel),
            'novel_ids': [FASHION_CLASSES.index(name) + 1 for name in novel]}
