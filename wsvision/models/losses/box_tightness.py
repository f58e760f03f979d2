"""The box tightness prior: a tight box touches its object on all four sides.

A tight box's object is connected, so every row and every column of pixels
that crosses the box holds at least one pixel of the object (Hsu et al.,
"Weakly supervised instance segmentation using the bounding box tightness
prior", NeurIPS 2019; BoxInst's projection term says the same). Each such
row or column is a positive bag of multiple-instance learning, and the bag
is as confident as its most confident pixel:

    L = mean over the rows and columns of every box of  -log max_{i in bag} p_c(i)

where p is the network's softmax and c the box's class. The negative bags
(rows and columns outside every box) need no term of their own: the box
labels already call those pixels background.

A pixel belongs to a box when its centre lies inside it; padding (label
``IGNORE_INDEX``) is never in a bag. It is not part of AGMM or AGMM++: a
config adds it to ``losses``.
"""
import torch
import torch.nn as nn

from ...registry import MODELS
from ...structures import IGNORE_INDEX
from .cross_entropy import at_least_float32, stack_boxes, stack_labels


def box_bags(log_p: torch.Tensor, valid: torch.Tensor, boxes: torch.Tensor):
    """The bags' maxima of each box.

    log_p (N, H, W): the log-probability of each box's class in its image;
    valid (N, H, W) bool: not padding; boxes (N, 4). Returns
    (rows (N, H), row_bags (N, H) bool, cols (N, W), col_bags (N, W) bool):
    the most confident log-probability of each row and column inside the
    box, and which rows and columns are bags (cross the box and hold a valid
    pixel of it).
    """
    N, H, W = log_p.shape
    y = torch.arange(H, device=log_p.device, dtype=boxes.dtype) + 0.5
    x = torch.arange(W, device=log_p.device, dtype=boxes.dtype) + 0.5
    in_y = (y[None] > boxes[:, 1:2]) & (y[None] < boxes[:, 3:4])
    in_x = (x[None] > boxes[:, 0:1]) & (x[None] < boxes[:, 2:3])
    inside = in_y[:, :, None] & in_x[:, None, :] & valid
    masked = log_p.masked_fill(~inside, float('-inf'))
    return masked.amax(2), inside.any(2), masked.amax(1), inside.any(1)


@MODELS.register_module()
class BoxTightnessLoss(nn.Module):
    """The MIL term of the module docstring, as the loss ``loss_name``.

    Called as ``loss(seg_logits=(B, K, H, W), data_samples=[...])``; the
    boxes are each sample's ``gt_instances`` (``bboxes`` in input pixels,
    after the transforms, and ``labels``), and the labels only mark the
    padding. A batch without boxes gives a connected zero.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_tightness'):
        super().__init__()
        self.loss_weight, self.loss_name = loss_weight, loss_name

    def forward(self, seg_logits: torch.Tensor, data_samples, **kwargs):
        K = seg_logits.shape[1]
        images, classes, boxes = stack_boxes(data_samples, K, seg_logits.device)
        log_p = at_least_float32(seg_logits).log_softmax(1)[images, classes]
        valid = (stack_labels(data_samples).to(seg_logits.device) != IGNORE_INDEX)[images]
        if valid.shape != log_p.shape:
            raise ValueError(f'BoxTightnessLoss: labels {tuple(valid.shape[1:])} and '
                             f'seg_logits {tuple(log_p.shape[1:])} differ in size')
        rows, row_bags, cols, col_bags = box_bags(log_p, valid, boxes.to(log_p.dtype))
        count = row_bags.sum() + col_bags.sum()
        if count == 0:
            return {self.loss_name: seg_logits.sum() * 0}
        total = rows[row_bags].sum() + cols[col_bags].sum()
        return {self.loss_name: -self.loss_weight * total / count}
