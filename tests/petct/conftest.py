"""Shared fixtures of the PET/CT grounding tests: a tiny PhantomPET build."""
import pytest


@pytest.fixture(scope='session')
def tiny_phantom(tmp_path_factory):
    """Path of a `tiny` PhantomPET build with weak labels of every split."""
    from wsvision.datasets.petct import build_phantom_pet, label_dataset
    root = str(tmp_path_factory.mktemp('phantom_pet_tiny'))
    build_phantom_pet(root, preset='tiny', seed=0)
    label_dataset(root)
    return root
