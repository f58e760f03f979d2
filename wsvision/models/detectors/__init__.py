from .faster_rcnn import FasterRCNN
from .ps_ttl import PSTTL, GradientDecoupledLayer
from .person_search import PersonSearchRCNN, ReIDEmbeddingHead
from .wscol import WSCoL

__all__ = ['FasterRCNN']
