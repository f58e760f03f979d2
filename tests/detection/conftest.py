"""Fixtures of the detection tests."""
import pytest
import torch

from wsvision.registry import MODELS

from tests.detection.helpers import tiny_detector_cfg


@pytest.fixture
def detector():
    torch.manual_seed(0)
    return MODELS.build(tiny_detector_cfg())
