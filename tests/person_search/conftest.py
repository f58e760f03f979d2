"""Fixtures of the person-search tests: a `tiny` person_search build."""
import pytest

from tests.conftest import fashion_mnist_available


@pytest.fixture(scope='session')
def tiny_person_search(tmp_path_factory):
    """Path of a `tiny` FashionScenes person_search variant (built once)."""
    if not fashion_mnist_available():
        pytest.skip('Fashion-MNIST is not installed (apt-get install '
                    'dataset-fashion-mnist)')
    from wsvision.datasets.fashion_scenes import build_variant
    root = str(tmp_path_factory.mktemp('fashion_scenes_ps_tiny'))
    build_variant(root, 'person_search', preset='tiny', seed=0)
    return root
