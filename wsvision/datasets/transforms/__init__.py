from .loading import LoadImageFromFile, LoadSegAnnotations
from .det_loading import LoadDetAnnotations
from .formatting import PackDetInputs, PackSegInputs
from .geometric import RandomFlip, RandomResize, RandomCrop, Resize
from .weak_loading import LoadWeakSegAnnotations, PackWeakSegInputs
from .photometric import Albu, build_albumentations

__all__ = ['LoadImageFromFile', 'LoadSegAnnotations', 'LoadDetAnnotations',
           'PackSegInputs', 'PackDetInputs', 'RandomFlip', 'RandomResize',
           'RandomCrop', 'Resize', 'LoadWeakSegAnnotations',
           'PackWeakSegInputs', 'Albu', 'build_albumentations']
