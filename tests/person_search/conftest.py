"""Fixtures of the person-search tests: a `tiny` person_search build."""
import pytest

from tests.conftest import require_fashion_mnist


@pytest.fixture(scope='session')
def tiny_person_search(tmp_path_factory):
    """Path of a `tiny` FashionScenes person_search variant (built once)."""
    require_fashion_mnist()
    from wsvision.datasets.fashion_scenes import build_variant
    root = str(tmp_path_factory.mktemp('fashion_scenes_ps_tiny'))
    build_variant(root, 'person_search', preset='tiny', seed=0)
    return root
