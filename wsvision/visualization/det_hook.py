"""Write PNG box overlays of detection predictions during ``tools/test.py``."""
import os.path as osp
from typing import Sequence

import cv2
import numpy as np
from mmengine.hooks import Hook

from ..datasets.io import read_image
from ..models.detectors.faster_rcnn import to_original_image
from ..registry import HOOKS
from .drawing import label_strip, palette, write_rgb_png


def draw_boxes(img: np.ndarray, bboxes: np.ndarray, labels: np.ndarray,
               classes: Sequence[str], scores=None, scale: int = 1) -> np.ndarray:
    """Draw xyxy ``bboxes`` (n, 4) with class names (and ``scores``) on a copy
    of ``img`` (H, W, 3) uint8 RGB enlarged ``scale`` times."""
    canvas = cv2.resize(img, (img.shape[1] * scale, img.shape[0] * scale),
                        interpolation=cv2.INTER_NEAREST)
    colors = palette(len(classes) + 1)[1:]  # entry 0 is black, kept for masks
    for i, (box, label) in enumerate(zip(bboxes, labels)):
        x1, y1, x2, y2 = (int(round(v * scale)) for v in box)
        color = tuple(int(c) for c in colors[int(label)])
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 1)
        text = classes[int(label)]
        if scores is not None:
            text += f' {scores[i]:.2f}'
        (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX,
                                             0.35, 1)
        top = max(y1 - height - 3, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + width + 2, top + height + 3),
                      color, -1)
        cv2.putText(canvas, text, (x1 + 1, top + height + 1),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


@HOOKS.register_module()
class DetVisualizationHook(Hook):
    """For each test image: ground-truth boxes | predicted boxes with class
    names and scores, as one PNG named after the image.

    Args:
        out_dir: folder for the PNGs (``tools/test.py --show-dir`` sets it).
        score_thr: predictions below this score are not drawn.
        max_images: stop after this many images (``None``: all).
        scale: the images are enlarged this many times so labels stay legible.
    """

    def __init__(self, out_dir: str, score_thr: float = 0.3, max_images=None,
                 scale: int = 3):
        self.out_dir = out_dir
        self.score_thr = score_thr
        self.max_images = max_images
        self.scale = scale
        self._written = 0

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        classes = runner.test_dataloader.dataset.metainfo['classes']
        for sample in outputs:
            if self.max_images is not None and self._written >= self.max_images:
                return
            img = read_image(sample.img_path)
            panels, titles = [], []
            if 'gt_instances' in sample:
                gt = sample.gt_instances
                gt_bboxes = to_original_image(gt.bboxes.float().cpu(),
                                              sample.metainfo)
                panels.append(draw_boxes(img, gt_bboxes.numpy(),
                                         gt.labels.cpu().numpy(), classes,
                                         scale=self.scale))
                titles.append('ground truth')
            pred = sample.pred_instances
            keep = pred.scores >= self.score_thr
            panels.append(draw_boxes(img, pred.bboxes[keep].cpu().numpy(),
                                     pred.labels[keep].cpu().numpy(), classes,
                                     pred.scores[keep].cpu().numpy(),
                                     scale=self.scale))
            titles.append(f'prediction (score >= {self.score_thr:g})')
            name = osp.splitext(osp.basename(sample.img_path))[0] + '.png'
            write_rgb_png(osp.join(self.out_dir, name),
                          label_strip(panels, titles, scale=1))
            self._written += 1
