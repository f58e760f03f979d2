"""The box tightness (MIL) loss against a direct per-bag formula."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from wsvision.models.losses import BoxTightnessLoss
from wsvision.structures import PixelData, SegDataSample

P = 255  # padding


def sample(labels, boxes=None, classes=None, path='scene.png'):
    data = SegDataSample(metainfo=dict(img_path=path))
    data.gt_weak_seg = PixelData(data=torch.as_tensor(labels)[None])
    if boxes is not None:
        data.gt_instances = InstanceData(bboxes=torch.as_tensor(boxes, dtype=torch.float32),
                                         labels=torch.as_tensor(classes))
    return data


def direct(logits, labels, boxes):
    """-mean over the rows and columns of each box of log max p_c, by loops."""
    p = logits.softmax(1)
    total, count = 0.0, 0
    for image, c, (x1, y1, x2, y2) in boxes:
        H, W = labels.shape[-2:]
        ys = [y for y in range(H) if y1 < y + 0.5 < y2]
        xs = [x for x in range(W) if x1 < x + 0.5 < x2]
        bags = [[(y, x) for x in xs] for y in ys] + [[(y, x) for y in ys] for x in xs]
        for bag in bags:
            values = [float(p[image, c, y, x]) for y, x in bag if labels[image, y, x] != P]
            if values:
                total -= math.log(max(values))
                count += 1
    return total / count


def test_loss_matches_the_direct_formula_on_random_inputs():
    torch.manual_seed(0)
    B, K, H, W = 3, 4, 9, 11
    logits = torch.randn(B, K, H, W, dtype=torch.float64)
    labels = torch.zeros(B, H, W, dtype=torch.long)
    labels[0, :, -2:] = P  # padding cuts the first box's last columns
    labels[0, 6, :] = P
    boxes = [(0, 1, (2.3, 1.0, 10.6, 7.7)), (0, 3, (0.0, 0.0, 4.0, 3.2)),
             (2, 2, (5.5, 4.4, 9.0, 9.0))]
    samples = [sample(labels[0], [b for _, _, b in boxes[:2]], [1, 3]),
               sample(labels[1]),  # no boxes
               sample(labels[2], [boxes[2][2]], [2])]
    loss = BoxTightnessLoss(loss_weight=1.5)
    value = loss(seg_logits=logits, data_samples=samples)['loss_tightness']
    assert float(value) == pytest.approx(1.5 * direct(logits, labels, boxes), rel=1e-9)


def test_tight_object_gives_zero_and_a_dot_does_not():
    K, H, W = 3, 8, 8
    box = (1.0, 2.0, 7.0, 7.0)  # columns 1..6, rows 2..6
    plus = torch.zeros(H, W, dtype=torch.bool)
    plus[4, 1:7] = True  # one row that crosses every column of the box
    plus[2:7, 3] = True  # one column that crosses every row
    logits = torch.zeros(1, K, H, W, dtype=torch.float64)
    logits[0, 1][plus] = 50.0
    loss = BoxTightnessLoss()
    data = [sample(torch.zeros(H, W, dtype=torch.long), [box], [1])]
    assert float(loss(seg_logits=logits, data_samples=data)['loss_tightness']) < 1e-12
    dot = torch.zeros(1, K, H, W, dtype=torch.float64)
    dot[0, 1, 4, 3] = 50.0
    # every bag but the dot's row and column holds only uniform pixels: log 3
    expected = (11 - 2) / 11 * math.log(K)
    value = float(loss(seg_logits=dot, data_samples=data)['loss_tightness'])
    assert value == pytest.approx(expected, rel=1e-9)


def test_gradcheck_float64():
    torch.manual_seed(1)
    logits = torch.randn(1, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    data = [sample(torch.zeros(6, 7, dtype=torch.long), [(0.7, 1.2, 5.9, 5.1)], [2])]
    loss = BoxTightnessLoss()
    assert torch.autograd.gradcheck(
        lambda x: loss(seg_logits=x, data_samples=data)['loss_tightness'], (logits,))


def test_no_boxes_gives_a_connected_zero():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    data = [sample(torch.zeros(4, 4, dtype=torch.long)) for _ in range(2)]
    value = BoxTightnessLoss()(seg_logits=logits, data_samples=data)['loss_tightness']
    assert value.item() == 0
    value.backward()
    assert logits.grad is not None


def test_bad_boxes_name_the_file():
    data = [sample(torch.zeros(4, 4, dtype=torch.long), [(0, 0, 2, 2)], [7], path='a.png')]
    with pytest.raises(ValueError, match=r'a\.png.*\[7\]'):
        BoxTightnessLoss()(seg_logits=torch.randn(1, 3, 4, 4), data_samples=data)
