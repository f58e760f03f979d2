"""The interface every weak-label generator implements.

A generator turns one image's dense ground truth into a weak label::

    labeler = PointLabeler(num_background=3)
    weak = labeler(semantic, instances, rng)   # -> WeakLabel

Inputs
- ``semantic``: uint8 (H, W) class ids. ``ignore_index`` (a constructor
  argument, 255 by default) marks "do not care" / padding pixels; they become
  ``IGNORE_INDEX`` (255) in every sparse output and are never labelled. Class
  id ``background_id`` (0 by default) is background, a real class that can be
  labelled. ``background_id=None`` means every class is an object class (for
  example Cityscapes train ids, where 0 is road), and no background clicks or
  strokes are drawn.
- ``instances``: a list of ``(mask (H, W) bool, class_id int)`` pairs, or
  ``None``. Generators that need instances (points, scribbles, boxes) then
  use the 8-connected components of every non-background class as instances,
  so touching objects of one class count as one instance.
- ``rng``: a ``numpy.random.Generator``; it is the only source of randomness,
  so the same generator state gives the same output.

Outputs (``WeakLabel``)
- ``sparse_mask``: uint8 (H, W) with class ids on labelled pixels,
  ``UNLABELLED`` (254) on unlabelled ones and ``IGNORE_INDEX`` (255) exactly
  where the input was ignored. A labelled pixel always carries the class the
  dense semantic mask gives it.
- ``tags``: sorted class ids.
- ``boxes``: int64 (N, 5) rows ``[x1, y1, x2, y2, class_id]``.
"""
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from ..structures import IGNORE_INDEX, UNLABELLED
from .regions import label_class_components

__all__ = ['Instance', 'WeakLabel', 'WeakLabeler', 'new_sparse_mask',
           'agreeing_region']


class Instance(NamedTuple):
    """One object: its (visible) mask, (H, W) bool, and its class id."""
    mask: np.ndarray
    class_id: int


@dataclass(frozen=True)
class WeakLabel:
    """A generator's output; exactly one field is set (see ``WeakLabeler.output``)."""
    sparse_mask: Optional[np.ndarray] = None
    tags: Optional[List[int]] = None
    boxes: Optional[np.ndarray] = None

    @property
    def labelled_pixels(self) -> int:
        """Pixels of ``sparse_mask`` that carry a class id."""
        return int(np.count_nonzero(self.sparse_mask < UNLABELLED))

    @property
    def labellable_pixels(self) -> int:
        """Pixels of ``sparse_mask`` that are not ignored."""
        return int(np.count_nonzero(self.sparse_mask != IGNORE_INDEX))

    @property
    def labelled_fraction(self) -> float:
        """Labelled over labellable pixels (0 when everything is ignored)."""
        labellable = self.labellable_pixels
        return self.labelled_pixels / labellable if labellable else 0.0


def new_sparse_mask(semantic: np.ndarray) -> np.ndarray:
    """All-unlabelled uint8 (H, W) map that keeps the ignored pixels of ``semantic``."""
    sparse = np.full(semantic.shape, UNLABELLED, dtype=np.uint8)
    sparse[semantic == IGNORE_INDEX] = IGNORE_INDEX
    return sparse


def agreeing_region(instance: Instance, semantic: np.ndarray) -> np.ndarray:
    """The instance's pixels that the semantic mask gives the instance's class.

    Labels are drawn only here, so every labelled pixel agrees with the dense
    ground truth even where instance and semantic annotations disagree (ignored
    boundaries in VOC, overlapping COCO masks). (H, W) bool.
    """
    return instance.mask & (semantic == instance.class_id)


class WeakLabeler(ABC):
    """Base class: validates the inputs, then calls ``_generate``.

    Subclasses set ``output`` (``'sparse'``, ``'tags'`` or ``'boxes'``),
    ``uses_instances`` and ``random``, keep every constructor argument as an
    attribute of the same name (``config`` reads them back) and implement
    ``_generate``.
    """
    output = 'sparse'
    uses_instances = False
    #: Whether ``_generate`` draws from ``rng``, which is then required.
    random = True

    def __init__(self, *, ignore_index: Optional[int] = 255,
                 background_id: Optional[int] = 0):
        for name, value in (('ignore_index', ignore_index),
                            ('background_id', background_id)):
            if value is not None and not 0 <= value <= 255:
                raise ValueError(f'{type(self).__name__}: {name} must be in '
                                 f'0..255 or None, got {value}')
        self.ignore_index = ignore_index
        self.background_id = background_id

    def __call__(self, semantic: np.ndarray,
                 instances: Optional[Sequence] = None,
                 rng: Optional[np.random.Generator] = None) -> WeakLabel:
        """Generate the weak label of one image (see the module docstring).

        ``rng`` may be omitted only by generators that draw nothing at random
        (``random`` is False).
        """
        if self.random and not isinstance(rng, np.random.Generator):
            raise ValueError(f'{type(self).__name__} samples at random: pass '
                             'rng=np.random.default_rng(seed), got '
                             f'{type(rng).__name__}')
        semantic = self._normalise_semantic(semantic)
        if not self.uses_instances:
            instances = None
        elif instances is None:
            instances = self._instances_from_components(semantic)
        else:
            instances = self._check_instances(instances, semantic.shape)
        return self._generate(semantic, instances, rng)

    @abstractmethod
    def _generate(self, semantic: np.ndarray,
                  instances: Optional[List[Instance]],
                  rng: Optional[np.random.Generator]) -> WeakLabel:
        """Build the weak label from validated inputs.

        ``semantic`` has its ignored pixels set to ``IGNORE_INDEX``;
        ``instances`` is ``None`` unless ``uses_instances``.
        """

    @property
    def config(self) -> dict:
        """The registry config that rebuilds this generator."""
        params = inspect.signature(type(self).__init__).parameters
        return dict(type=type(self).__name__,
                    **{name: getattr(self, name) for name in params
                       if name != 'self'})

    def _normalise_semantic(self, semantic: np.ndarray) -> np.ndarray:
        if (not isinstance(semantic, np.ndarray) or semantic.ndim != 2
                or semantic.dtype != np.uint8):
            got = (f'{semantic.dtype} array of shape {semantic.shape}'
                   if isinstance(semantic, np.ndarray) else type(semantic))
            raise ValueError('semantic mask must be a uint8 (H, W) array, '
                             f'got {got}')
        ignored = (semantic == self.ignore_index if self.ignore_index is not None
                   else np.zeros(semantic.shape, dtype=bool))
        classes = semantic[~ignored]
        if classes.size and classes.max() >= UNLABELLED:
            raise ValueError(
                f'semantic mask holds class id {classes.max()}, but ids '
                f'{UNLABELLED} (unlabelled) and {IGNORE_INDEX} (ignore) are '
                'reserved in weak labels; set ignore_index to the value your '
                'masks use for "do not care" pixels')
        normalised = semantic.copy()
        normalised[ignored] = IGNORE_INDEX
        return normalised

    def _check_instances(self, instances: Sequence,
                         shape: tuple) -> List[Instance]:
        checked = []
        for index, item in enumerate(instances):
            try:
                mask, class_id = item
            except (TypeError, ValueError):
                raise ValueError(f'instance {index} must be a (mask, class_id) '
                                 f'pair, got {type(item).__name__}') from None
            mask = np.asarray(mask)
            if mask.shape != shape:
                raise ValueError(f'instance {index}: mask shape {mask.shape} '
                                 f'differs from the semantic mask {shape}')
            if mask.dtype != bool:
                if not np.isin(mask, (0, 1)).all():
                    raise ValueError(f'instance {index}: mask of dtype '
                                     f'{mask.dtype} must hold only 0 and 1')
                mask = mask.astype(bool)
            if not (isinstance(class_id, (int, np.integer))
                    and 0 <= class_id < UNLABELLED):
                raise ValueError(f'instance {index}: class_id must be an int '
                                 f'in 0..{UNLABELLED - 1}, got {class_id!r}')
            checked.append(Instance(mask, int(class_id)))
        return checked

    def _instances_from_components(self,
                                   semantic: np.ndarray) -> List[Instance]:
        """8-connected components of each non-background class, as instances."""
        components, component_classes = label_class_components(
            semantic, exclude=(self.background_id, IGNORE_INDEX))
        return [Instance(components == index + 1, int(class_id))
                for index, class_id in enumerate(component_classes)]
