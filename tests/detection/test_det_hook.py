"""DetVisualizationHook writes one overlay PNG per test image."""
from types import SimpleNamespace

import numpy as np
import torch

from wsvision.datasets.io import read_image
from wsvision.structures import DetDataSample, InstanceData
from wsvision.visualization import DetVisualizationHook, draw_boxes, palette
from wsvision.visualization.drawing import write_rgb_png


def test_draw_boxes_outlines_each_box_in_its_class_colour():
    img = np.zeros((40, 50, 3), np.uint8)
    canvas = draw_boxes(img, np.array([[10., 20., 30., 35.]]), np.array([1]),
                        ('a', 'b'), scores=np.array([0.5]), scale=2)
    assert canvas.shape == (80, 100, 3)
    colour = palette(3)[2]
    # The bottom edge (y = 70 at scale 2) carries class 1's colour.
    assert (canvas[70, 30:50] == colour).all()
    assert (canvas[75:, :] == 0).all()  # nothing drawn below the box


def test_hook_writes_ground_truth_and_prediction_panels(tmp_path):
    img_path = str(tmp_path / 'scene_007.png')
    write_rgb_png(img_path, np.full((32, 48, 3), 90, np.uint8))
    sample = DetDataSample(metainfo=dict(
        img_path=img_path, ori_shape=(32, 48), img_shape=(64, 96),
        scale_factor=(2.0, 2.0)))
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[8., 8., 40., 40.]]),
                                       labels=torch.tensor([0]))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[4., 4., 20., 20.], [1., 1., 5., 5.]]),
        scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([1, 0]))
    runner = SimpleNamespace(test_dataloader=SimpleNamespace(
        dataset=SimpleNamespace(metainfo=dict(classes=('a', 'b')))))
    hook = DetVisualizationHook(out_dir=str(tmp_path / 'vis'), score_thr=0.3,
                                max_images=1, scale=2)
    hook.after_test_iter(runner, 0, outputs=[sample, sample])
    written = sorted(p.name for p in (tmp_path / 'vis').iterdir())
    assert written == ['scene_007.png']  # max_images stops after one
    overlay = read_image(str(tmp_path / 'vis' / 'scene_007.png'))
    # Two panels (ground truth | prediction) of 64x96 under an 18 px title.
    assert overlay.shape == (18 + 64, 2 * 96, 3)
    gt_panel, pred_panel = overlay[18:, :96], overlay[18:, 96:]
    # The ground-truth box, rescaled to the original image, ends at y = 20
    # (40 px at scale 2) in class 0's colour; the 0.1 prediction is not drawn.
    assert (gt_panel[40, 10:30] == palette(3)[1]).all()
    assert (pred_panel[40, 10:30] == palette(3)[2]).all()
    assert (pred_panel[2:12, 2] == 90).all()
