"""Draw an inference result over its input."""
from typing import Optional, Sequence

import cv2
import numpy as np

from ..visualization import (draw_boxes, label_strip, overlay_mask, palette,
                             write_rgb_png)
from .inference import load_image

#: Small inputs are enlarged so that the class names stay legible.
MIN_DRAWN_SIDE = 256


def _auto_scale(img: np.ndarray, scale: Optional[int]) -> int:
    return scale or max(1, MIN_DRAWN_SIDE // min(img.shape[:2]))


def _seg_legend(classes: Sequence[str], colors: np.ndarray, mask: np.ndarray,
                confidence: Optional[np.ndarray], width: int) -> np.ndarray:
    """One row per predicted class: colour swatch, name, share of the image
    and mean softmax confidence over its pixels."""
    ids = [int(c) for c in np.unique(mask) if c < len(classes)]
    legend = np.full((18 * len(ids) + 4, width, 3), 255, np.uint8)
    for row, cls in enumerate(ids):
        top = 18 * row + 3
        cv2.rectangle(legend, (4, top), (18, top + 13),
                      tuple(int(v) for v in colors[cls]), -1)
        region = mask == cls
        text = f'{classes[cls]} {region.mean():.0%}'
        if confidence is not None:
            text += f' conf {confidence[region].mean():.2f}'
        cv2.putText(legend, text, (24, top + 11), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return legend


def _show_segmentation(img, result, classes, alpha, scale):
    mask = result.pred_sem_seg.data[0].cpu().numpy()
    if mask.shape != img.shape[:2]:
        raise ValueError(f'prediction of size {mask.shape} does not fit an '
                         f'image of size {img.shape[:2]}')
    confidence = None
    if 'seg_logits' in result:
        confidence = result.seg_logits.data.float().softmax(0).amax(0).cpu(
        ).numpy()
    classes = classes or [str(i) for i in range(int(mask.max()) + 1)]
    colors = palette(len(classes))
    strip = label_strip([img, overlay_mask(img, mask, colors, alpha)],
                        ['image', 'prediction'], scale)
    legend = _seg_legend(classes, colors, mask, confidence, strip.shape[1])
    return np.concatenate([strip, legend], axis=0)


def _show_detection(img, result, classes, score_thr, scale):
    pred = result.pred_instances
    keep = (pred.scores >= score_thr).cpu()
    labels = pred.labels[keep].cpu().numpy()
    classes = classes or [str(i) for i in range(
        int(labels.max()) + 1 if len(labels) else 1)]
    drawn = draw_boxes(img, pred.bboxes[keep].cpu().numpy(), labels, classes,
                       pred.scores[keep].cpu().numpy(), scale=scale)
    return label_strip([drawn], [f'{int(keep.sum())} detections (score >= '
                                 f'{score_thr:g})'], 1)


def _show_grounding(volumes, result, alpha):
    from ..models.grounding.visualization_hook import render_grounding
    pet, ct = (np.asarray(v, dtype=np.float32) for v in volumes)
    # The intensity windows of training (datasets/petct/transforms.py).
    pet = np.clip(pet / 10.0, 0, 1)
    ct = np.clip((ct + 150.0) / 400.0, 0, 1)
    pred = result.pred_mask[0].cpu().numpy() > 0
    return render_grounding(pet, ct, np.zeros_like(pred), pred,
                            caption=result.metainfo.get('sentence', ''),
                            alpha=alpha)


def show_result(image, result, classes: Optional[Sequence[str]] = None,
                score_thr: float = 0.3, alpha: float = 0.5,
                scale: Optional[int] = None,
                out_file: Optional[str] = None) -> np.ndarray:
    """An RGB (H', W', 3) uint8 picture of ``result`` over ``image``.

    Args:
        image: the input (path or RGB array); for grounding, the
            ``(pet, ct)`` pair of (X, Y, Z) volumes in SUV and HU.
        result: a ``SegDataSample`` (image | overlay, and a legend of the
            predicted classes with their area and mean confidence), a
            ``DetDataSample`` (boxes with class names and scores at least
            ``score_thr``) or a grounding sample (MIPs and slices).
        classes: class names (default: ids); pass ``model.dataset_meta
            ['classes']``.
        scale: enlargement (default: so that the short side is >= 256 px).
        out_file: also write the picture there as PNG.
    """
    if 'pred_mask' in result:
        drawn = _show_grounding(image, result, alpha)
    else:
        img = load_image(image)['img']
        if 'pred_sem_seg' in result:
            drawn = _show_segmentation(img, result, classes, alpha,
                                       _auto_scale(img, scale))
        elif 'pred_instances' in result:
            drawn = _show_detection(img, result, classes, score_thr,
                                    _auto_scale(img, scale))
        else:
            raise TypeError('result holds no prediction (pred_sem_seg, '
                            f'pred_instances or pred_mask): {result.keys()}')
    if out_file is not None:
        write_rgb_png(out_file, drawn)
    return drawn
