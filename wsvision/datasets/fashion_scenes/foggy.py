"""The ``foggy`` variant: a target domain for source-free domain adaptation.

Scenes come from the core generator with a shifted background palette (cool,
desaturated colours), then get a deterministic corruption, per scene:

1. fog, with the atmospheric scattering model ``I = J t + A (1 - t)``,
   ``t = exp(-beta d)``: ``J`` is the clean image, ``A`` a grey-white
   airlight and ``d`` a depth-like map (farther towards the top, plus
   low-frequency noise);
2. Gaussian blur;
3. contrast reduction towards the image mean.

Layout under ``OUT/foggy/``:

- ``train/images``, ``train/image_list.json`` (COCO ``images`` entries): the
  unlabelled adaptation set. Its ground truth is written for oracle runs and
  diagnostics only, as ``train/masks_hidden`` and
  ``train/instances_hidden.json``.
- ``val`` (model selection) and ``test``: ``images``, ``masks`` and
  ``instances.json`` as in the core splits.
"""
import os

import cv2
import numpy as np

from .background import Palette, fractal_noise
from .builder import item_pool, scene_config, write_meta, write_split
from .writer import SplitWriter, write_json

FOGGY_PALETTE = Palette(hue=(0.45, 0.7), saturation=(0.05, 0.4),
                        value=(0.35, 0.9))


def apply_fog(rng: np.random.Generator, image: np.ndarray,
              params: dict) -> np.ndarray:
    """Fog, blur and contrast-reduce an (S, S, 3) uint8 image (module doc)."""
    size = image.shape[0]
    clean = image.astype(np.float32) / 255.0
    rows = np.linspace(1.0, 0.0, size, dtype=np.float32)[:, None]
    depth = 0.6 * rows + 0.4 * fractal_noise(rng, size, base_cells=2, octaves=3)
    transmission = np.exp(-rng.uniform(*params['foggy_beta']) * depth)
    airlight = rng.uniform(0.7, 0.9) * np.array([0.96, 0.98, 1.0],
                                                  np.float32)
    foggy = clean * transmission[..., None] + airlight * (
        1.0 - transmission[..., None])
    foggy = cv2.GaussianBlur(foggy, (0, 0),
                             sigmaX=rng.uniform(*params['foggy_blur']))
    mean = foggy.mean(axis=(0, 1))
    foggy = mean + rng.uniform(*params['foggy_contrast']) * (foggy - mean)
    return np.round(np.clip(foggy, 0.0, 1.0) * 255.0).astype(np.uint8)


def build_foggy(out_dir: str, preset: str, params: dict, seed: int, source,
                progress: bool = False) -> dict:
    """Write ``out_dir/foggy``; returns its meta.json."""
    root = os.path.join(out_dir, 'foggy')
    config = scene_config(params, background=FOGGY_PALETTE)
    counts = {}
    for split in ('train', 'val', 'test'):
        hidden = split == 'train'
        writer = SplitWriter(
            os.path.join(root, split),
            mask_dir='masks_hidden' if hidden else 'masks',
            instances_name='instances_hidden.json' if hidden else
            'instances.json')
        fmnist, pool = item_pool(split, source, seed)
        counts[split] = params[f'foggy_num_{split}']
        coco = write_split(writer, f'foggy/{split}', counts[split], seed,
                           fmnist, pool, params, config,
                           corrupt=lambda rng, image: apply_fog(rng, image,
                                                                params),
                           progress=progress)
        if hidden:
            write_json(os.path.join(root, split, 'image_list.json'),
                       coco['images'])
    return write_meta(os.path.join(root, 'meta.json'), 'fashion_scenes_foggy',
                      preset, seed, params, counts)
