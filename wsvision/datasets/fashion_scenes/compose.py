"""Scene composition: tinted Fashion-MNIST items pasted on a textured canvas.

Items are placed bottom to top (``z_order`` 0 is the bottom). Each new item is
drawn on top, so it is fully visible when placed; its position and size are
rejection-sampled until every item already on the canvas keeps at least
``min_visible`` of its silhouette area visible. Ground truth is read off the
``owner`` map (which item is top-most at each pixel), so the semantic mask,
the visible instance masks and their boxes agree by construction.
"""
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np
from scipy.ndimage import binary_fill_holes

from .background import Palette, random_colours, render_background


@dataclass(frozen=True)
class SceneConfig:
    """Everything that shapes one scene except the choice of items.

    Args:
        canvas: side S of the square RGB canvas, in pixels.
        item_size: (min, max) side length of a pasted item, inclusive.
        min_visible: fraction of its silhouette every item keeps visible.
        place_tries: placements sampled per item before it is left out.
        layout_tries: whole layouts tried when every item must be placed.
        threshold: grey level (0..255) above which an item pixel belongs to
            its silhouette.
        shade_floor: brightness of the darkest item pixel relative to its tint,
            so dark prints stay visible but keep their texture.
        noise_std: standard deviation of Gaussian sensor noise (in [0, 1] units).
        background: palette of background colours.
        item_palette: palette of item tints; it overlaps ``background`` on
            purpose, so that colour is no shortcut to segmentation.
    """
    canvas: int = 128
    item_size: tuple = (20, 64)
    min_visible: float = 0.6
    place_tries: int = 50
    layout_tries: int = 20
    threshold: int = 20
    shade_floor: float = 0.3
    noise_std: float = 0.01
    background: Palette = field(default_factory=Palette)
    item_palette: Palette = field(
        default_factory=lambda: Palette(saturation=(0.15, 0.85),
                                        value=(0.5, 1.0)))

    def __post_init__(self):
        low, high = self.item_size
        if not 1 <= low <= high <= self.canvas:
            raise ValueError(f'item_size must satisfy 1 <= min <= max <= canvas '
                             f'({self.canvas}), got {tuple(self.item_size)}')
        if not 0.0 <= self.min_visible <= 1.0:
            raise ValueError(f'min_visible must lie in [0, 1], got '
                             f'{self.min_visible}')


@dataclass(frozen=True)
class SourceItem:
    """An item to paste: ``grey`` (h, w) uint8, its ``category_id`` (1..10) and
    its ``source_index`` in the Fashion-MNIST split it comes from."""
    grey: np.ndarray
    category_id: int
    source_index: int


@dataclass(frozen=True)
class PlacedItem:
    """An item as placed in a scene.

    ``input_index`` is its position in the list given to ``compose_scene``;
    ``x, y, side`` locate its (side, side) patch; ``full_area`` and
    ``visible_area`` count silhouette pixels before and after occlusion.
    """
    input_index: int
    category_id: int
    source_index: int
    z_order: int
    x: int
    y: int
    side: int
    tint: tuple
    full_area: int
    visible_area: int

    @property
    def visible_fraction(self) -> float:
        return self.visible_area / self.full_area


@dataclass(frozen=True)
class Scene:
    """A composed scene.

    ``image``: (S, S, 3) uint8 RGB. ``owner``: (S, S) int16, the index in
    ``items`` of the top-most item at each pixel, -1 on background.
    ``items``: the placed items, bottom to top.
    """
    image: np.ndarray
    owner: np.ndarray
    items: tuple

    def semantic_mask(self) -> np.ndarray:
        """(S, S) uint8: 0 on background, the item's category id elsewhere."""
        lookup = np.array([0] + [item.category_id for item in self.items],
                          dtype=np.uint8)
        return lookup[self.owner + 1]

    def visible_mask(self, index: int) -> np.ndarray:
        """(S, S) bool: the visible pixels of ``items[index]``."""
        return self.owner == index


@dataclass(frozen=True)
class _ItemLayer:
    """An item resized to ``side``: ``alpha`` (side, side) float32 in [0, 1]
    (1 on the silhouette, soft just outside it), ``silhouette`` (side, side)
    bool, ``shade`` (side, side) float32 brightness in [shade_floor, 1]."""
    alpha: np.ndarray
    silhouette: np.ndarray
    shade: np.ndarray


def _make_layer(grey: np.ndarray, side: int, config: SceneConfig) -> _ItemLayer:
    shrinking = side < max(grey.shape)
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    # Silhouette = thresholded item with holes filled (e.g. between sandal
    # straps), computed at native resolution and resized as a soft matte.
    native_mask = binary_fill_holes(grey > config.threshold)
    matte = cv2.resize(native_mask.astype(np.float32), (side, side),
                       interpolation=interpolation)
    silhouette = binary_fill_holes(matte >= 0.5)
    # Opaque inside the silhouette; the sub-0.5 matte outside it anti-aliases
    # the edge without changing which pixels the item owns.
    alpha = np.where(silhouette, 1.0, matte).astype(np.float32)
    brightness = cv2.resize(grey.astype(np.float32), (side, side),
                            interpolation=interpolation)
    brightness /= max(float(grey.max()), 1.0)
    shade = config.shade_floor + (1.0 - config.shade_floor) * brightness
    return _ItemLayer(alpha=alpha, silhouette=silhouette, shade=shade)


def _place_items(rng: np.random.Generator, items: Sequence[SourceItem],
                 config: SceneConfig):
    """Rejection-sample a layout.

    Returns ``owner`` (S, S) int16, ``placed`` (a list of (input_index, x, y,
    tint, layer), bottom to top) and, per placed item, its ``full_area`` and
    ``visible_area`` in pixels.
    """
    size = config.canvas
    low, high = config.item_size
    owner = np.full((size, size), -1, np.int16)
    placed, full_area, visible_area = [], [], []
    for input_index, item in enumerate(items):
        tint = random_colours(rng, config.item_palette, 1)[0]
        for _ in range(config.place_tries):
            side = int(rng.integers(low, high + 1))
            x = int(rng.integers(0, size - side + 1))
            y = int(rng.integers(0, size - side + 1))
            layer = _make_layer(item.grey, side, config)
            area = int(layer.silhouette.sum())
            if area == 0:
                continue
            region = owner[y:y + side, x:x + side]
            # Pixels of each earlier item that the new one would cover.
            covered = np.bincount(region[layer.silhouette] + 1,
                                  minlength=len(placed) + 1)[1:]
            remaining = np.asarray(visible_area, np.int64) - covered
            if np.all(remaining >= config.min_visible *
                      np.asarray(full_area, np.float64)):
                region[layer.silhouette] = len(placed)
                visible_area = list(remaining) + [area]
                full_area.append(area)
                placed.append((input_index, x, y, tint, layer))
                break
    return owner, placed, full_area, visible_area


def compose_scene(rng: np.random.Generator, items: Sequence[SourceItem],
                  config: SceneConfig, require_all: bool = False) -> Scene:
    """Compose one scene from ``items`` (pasted in the given order, bottom first).

    An item that finds no valid placement in ``config.place_tries`` draws is
    left out, unless ``require_all``: then whole layouts are redrawn (up to
    ``config.layout_tries``) until every item fits, and ``ValueError`` is
    raised if none does.
    """
    image = render_background(rng, config.canvas, config.background)
    for _ in range(config.layout_tries if require_all else 1):
        owner, placed, full_area, visible_area = _place_items(rng, items,
                                                              config)
        if len(placed) == len(items) or not require_all:
            break
    else:
        raise ValueError(
            f'could not place all {len(items)} items with item_size '
            f'{tuple(config.item_size)} on a {config.canvas}px canvas keeping '
            f'{config.min_visible:.0%} of each visible; use fewer or smaller '
            'items or a larger canvas')

    placed_items = []
    for z_order, (input_index, x, y, tint, layer) in enumerate(placed):
        region = image[y:y + layer.alpha.shape[0], x:x + layer.alpha.shape[1]]
        colour = layer.shade[..., None] * tint
        region += layer.alpha[..., None] * (colour - region)
        item = items[input_index]
        placed_items.append(PlacedItem(
            input_index=input_index, category_id=int(item.category_id),
            source_index=int(item.source_index), z_order=z_order, x=x, y=y,
            side=layer.alpha.shape[0], tint=tuple(float(c) for c in tint),
            full_area=int(full_area[z_order]),
            visible_area=int(visible_area[z_order])))
    if config.noise_std > 0:
        image += config.noise_std * rng.standard_normal(image.shape,
                                                        dtype=np.float32)
    image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Scene(image=image, owner=owner, items=tuple(placed_items))
