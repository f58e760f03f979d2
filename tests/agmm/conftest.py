"""A `tiny` FashionScenes build with every weak-label type, for the AGMM tests."""
import shutil

import pytest


@pytest.fixture(scope='session')
def weak_scenes(tiny_scenes, tmp_path_factory):
    """Copy of the shared `tiny` build with ``train/weak/<type>`` for all types."""
    from wsvision.weak_labels import (WEAK_LABEL_TYPES, CocoSplitSource, build_weak_labeler,
                                      export_weak_labels)
    root = tmp_path_factory.mktemp('fashion_scenes_weak') / 'data'
    shutil.copytree(tiny_scenes, root)
    labelers = {name: build_weak_labeler(name) for name in WEAK_LABEL_TYPES}
    export_weak_labels(CocoSplitSource(str(root / 'train')), labelers,
                       str(root / 'train' / 'weak'), seed=0, progress=False)
    return str(root)
