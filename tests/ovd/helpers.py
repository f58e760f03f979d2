"""A tiny MarvelOVD and a FashionScenes ``ovd`` build for the tests."""
import os

from tests.detection.helpers import tiny_detector_cfg

TINY_VLM = dict(type='MiniVLM', text_encoder=dict(type='TinyTextEncoder',
                                                  embed_dim=32))
CLASS_NAMES = ['coat', 'sneaker', 'bag']


def tiny_marvel_cfg(**kwargs):
    """The detection tests' tiny Faster R-CNN as a MarvelOVD over 3 classes
    (``bag`` novel) with a text-embedding classifier."""
    cfg = tiny_detector_cfg(
        class_agnostic_reg=True,
        classifier=dict(type='TextEmbeddingClassifier', vlm=TINY_VLM,
                        class_names=CLASS_NAMES),
        assigner=dict(type='StratifiedAssigner'))
    cfg.update(type='MarvelOVD', novel_classes=['bag'], burn_in_iters=10)
    cfg.update(kwargs)
    return cfg


def ensure_ovd(root: str) -> str:
    """Build the ``ovd`` variant of the tiny build ``root`` once."""
    if not os.path.isfile(os.path.join(root, 'ovd', 'classes.json')):
        from wsvision.datasets.fashion_scenes import build_variant
        build_variant(root, 'ovd', preset='tiny')
    return root
