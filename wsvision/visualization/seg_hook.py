"""Write PNG overlays of segmentation predictions during ``tools/test.py``."""
import os.path as osp

from mmengine.hooks import Hook

from ..datasets.io import read_image
from ..registry import HOOKS
from .drawing import label_strip, overlay_mask, palette, write_rgb_png


@HOOKS.register_module()
class SegVisualizationHook(Hook):
    """For each test image: input | ground truth | prediction, as one PNG.

    Args:
        out_dir: folder for the PNGs (``tools/test.py --show-dir`` sets it).
        max_images: stop after this many images (``None``: all).
        alpha: blend weight of the class colours.
    """

    def __init__(self, out_dir: str, max_images=None, alpha: float = 0.6):
        self.out_dir = out_dir
        self.max_images = max_images
        self.alpha = alpha
        self._written = 0

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        colors = palette(len(runner.test_dataloader.dataset.metainfo['classes']))
        for sample in outputs:
            if self.max_images is not None and self._written >= self.max_images:
                return
            img = read_image(sample.img_path)
            panels, titles = [img], ['image']
            if 'gt_sem_seg' in sample:
                gt = sample.gt_sem_seg.data[0].cpu().numpy()
                panels.append(overlay_mask(img, gt, colors, self.alpha))
                titles.append('ground truth')
            pred = sample.pred_sem_seg.data[0].cpu().numpy()
            panels.append(overlay_mask(img, pred, colors, self.alpha))
            titles.append('prediction')
            name = osp.splitext(osp.basename(sample.img_path))[0] + '.png'
            write_rgb_png(osp.join(self.out_dir, name),
                          label_strip(panels, titles))
            self._written += 1
