"""PNG views of grounding predictions: PET maximum-intensity projections and
axial slices, with the referenced lesion and the prediction overlaid."""
import os.path as osp
import textwrap
from typing import Optional

import cv2
import numpy as np
from mmengine.hooks import Hook

from ...registry import HOOKS
from ...visualization.drawing import label_strip, overlay_mask, write_rgb_png

# Overlay classes: 1 referenced lesion only, 2 prediction only, 3 both.
OVERLAY_COLORS = np.array([[0, 0, 0], [0, 200, 0], [230, 0, 0],
                           [240, 200, 0]], np.uint8)


def _grey(values: np.ndarray, invert: bool) -> np.ndarray:
    """[0, 1] values -> (H, W, 3) uint8; PET is shown hot = dark."""
    values = np.clip(values, 0.0, 1.0)
    grey = ((1.0 - values) if invert else values) * 255.0
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)


def _views(pet, ct, gt, pred, z):
    """(title, image, overlay classes) per panel, in radiological display.

    Arrays are (X, Y, Z) RAS+. Radiological display puts the patient's right
    on the viewer's left, superior and anterior up. Masks are projected
    separately, so "both" marks pixels whose rays meet both masks.
    """
    def coronal(a):   # (Z, X)
        return a.max(axis=1).T[::-1, ::-1]

    def sagittal(a):  # (Z, Y), anterior on the left
        return a.max(axis=0).T[::-1, ::-1]

    def axial(a):     # (Y, X), anterior up
        return a[:, :, z].T[::-1, ::-1]

    def classes(view):
        return view(gt).astype(np.uint8) + 2 * view(pred).astype(np.uint8)

    return [('coronal PET MIP', _grey(coronal(pet), True), classes(coronal)),
            ('sagittal PET MIP', _grey(sagittal(pet), True),
             classes(sagittal)),
            (f'axial PET z={z}', _grey(axial(pet), True), classes(axial)),
            (f'axial CT z={z}', _grey(axial(ct), False), classes(axial))]


def _pad_to_height(image: np.ndarray, height: int) -> np.ndarray:
    pad = height - image.shape[0]
    return np.pad(image, ((0, pad), (0, 0), (0, 0)), constant_values=255)


def _caption(image: np.ndarray, text: str) -> np.ndarray:
    """Add ``text``, wrapped, in a white band above ``image``."""
    lines = textwrap.wrap(text, width=max(20, image.shape[1] // 7)) or ['']
    band = np.full((16 * len(lines) + 6, image.shape[1], 3), 255, np.uint8)
    for row, line in enumerate(lines):
        cv2.putText(band, line, (4, 16 * row + 14), cv2.FONT_HERSHEY_SIMPLEX,
                    0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, image], axis=0)


def render_grounding(pet: np.ndarray, ct: np.ndarray, gt: np.ndarray,
                     pred: np.ndarray, caption: str = '', scale: int = 3,
                     alpha: float = 0.5) -> np.ndarray:
    """One RGB picture of a grounding sample.

    Args:
        pet, ct: (X, Y, Z) intensities in [0, 1] (RAS+ array order).
        gt, pred: (X, Y, Z) bool, the referenced lesion and the prediction.
        caption: text above the panels (the sentence).

    Returns:
        (H, W, 3) uint8: coronal and sagittal PET MIPs and the axial PET and
        CT slices through the referenced lesion (the prediction when there
        is no reference), green = reference, red = prediction, yellow = both.
    """
    focus = gt if gt.any() else pred
    z = (int(round(np.flatnonzero(focus.any(axis=(0, 1))).mean()))
         if focus.any() else pet.shape[2] // 2)
    views = _views(pet, ct, gt, pred, z)
    height = max(image.shape[0] for _, image, _ in views)
    panels = [_pad_to_height(overlay_mask(image, classes, OVERLAY_COLORS,
                                          alpha, skip=(0,)), height)
              for _, image, classes in views]
    strip = label_strip(panels, [title for title, _, _ in views], scale)
    return _caption(strip, caption) if caption else strip


@HOOKS.register_module()
class GroundingVisualizationHook(Hook):
    """Write one PNG per test sample (``tools/test.py --show-dir``).

    Args:
        out_dir: folder for the PNGs; ``None`` uses ``<log_dir>/vis``.
        max_samples: stop after this many (``None``: all).
        scale: pixel zoom of the panels.
    """

    def __init__(self, out_dir: Optional[str] = None,
                 max_samples: Optional[int] = None, scale: int = 3):
        self.out_dir = out_dir
        self.max_samples = max_samples
        self.scale = scale
        self._written = 0

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        out_dir = self.out_dir or osp.join(runner.log_dir, 'vis')
        for inputs, sample in zip(data_batch['inputs'], outputs):
            if self.max_samples is not None and \
                    self._written >= self.max_samples:
                return
            volume = inputs.detach().cpu().float().numpy()
            meta = sample.metainfo
            image = render_grounding(
                volume[0], volume[1],
                sample.gt_mask[0].cpu().numpy() > 0,
                sample.pred_mask[0].cpu().numpy() > 0,
                caption=f'{meta["exam_id"]} ({meta["tracer"]}): '
                        f'{meta["sentence"]}', scale=self.scale)
            name = f'{meta["exam_id"]}_s{meta["sentence_index"]}.png'
            write_rgb_png(osp.join(out_dir, name), image)
            self._written += 1
