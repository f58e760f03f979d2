"""Procedural textures: fractal value noise, random colours and backgrounds.

Backgrounds are built so that colour alone cannot separate items from the
background: background colours and item tints are drawn from overlapping HSV
ranges, and the background carries texture at several scales (colour
gradients, low-frequency colour blobs and fine luminance grain), as item
shading does.
"""
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Palette:
    """HSV ranges (each in [0, 1]) that colours are drawn from uniformly.

    ``hue`` may wrap around: ``(0.9, 1.1)`` spans magenta through red to orange.
    """
    hue: tuple = (0.0, 1.0)
    saturation: tuple = (0.1, 0.75)
    value: tuple = (0.25, 0.95)


def random_colours(rng: np.random.Generator, palette: Palette,
                   count: int) -> np.ndarray:
    """Draw ``count`` RGB colours from ``palette``: float32 (count, 3) in [0, 1]."""
    hsv = np.stack([rng.uniform(*palette.hue, size=count) % 1.0,
                    rng.uniform(*palette.saturation, size=count),
                    rng.uniform(*palette.value, size=count)], axis=1)
    return hsv_to_rgb(hsv.astype(np.float32))


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB. ``hsv``: (..., 3) in [0, 1]; returns (..., 3)."""
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    # Standard piecewise-linear hexcone: channel n uses k = (n + 6h) mod 6.
    channels = []
    for offset in (5.0, 3.0, 1.0):
        k = (offset + hue * 6.0) % 6.0
        channels.append(val - val * sat *
                        np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return np.stack(channels, axis=-1).astype(np.float32)


def fractal_noise(rng: np.random.Generator, size: int, base_cells: int = 2,
                  octaves: int = 4, persistence: float = 0.5) -> np.ndarray:
    """Multi-octave value noise, float32 (size, size) normalised to [0, 1].

    Octave ``o`` is a random (cells+1)^2 lattice with ``cells = base_cells *
    2**o`` upsampled bicubically to the canvas, weighted by
    ``persistence**o``: low octaves give large smooth blobs, high ones grain.
    """
    noise = np.zeros((size, size), np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        cells = base_cells * 2 ** octave
        lattice = rng.random((cells + 1, cells + 1), dtype=np.float32)
        noise += amplitude * cv2.resize(lattice, (size, size),
                                        interpolation=cv2.INTER_CUBIC)
        amplitude *= persistence
    low, high = noise.min(), noise.max()
    return (noise - low) / max(high - low, 1e-6)


def render_background(rng: np.random.Generator, size: int,
                      palette: Palette) -> np.ndarray:
    """A textured background, float32 (size, size, 3) in [0, 1].

    A linear gradient between two palette colours in a random direction, mixed
    with a third colour through low-frequency noise, then modulated by a
    fine-grained luminance texture.
    """
    start, end, blob = random_colours(rng, palette, 3)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    coords = np.arange(size, dtype=np.float32) / max(size - 1, 1)
    ramp = np.cos(angle) * coords[None, :] + np.sin(angle) * coords[:, None]
    ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-6)
    image = start + ramp[..., None] * (end - start)

    blob_weight = rng.uniform(0.3, 0.8) * fractal_noise(
        rng, size, base_cells=2, octaves=3)
    image += blob_weight[..., None] * (blob - image)

    grain_strength = rng.uniform(0.1, 0.3)
    grain = fractal_noise(rng, size, base_cells=8, octaves=3) - 0.5
    image *= 1.0 + grain_strength * grain[..., None]
    return np.clip(image, 0.0, 1.0)
