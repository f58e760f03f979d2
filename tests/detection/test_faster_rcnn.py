"""FasterRCNN end to end on synthetic batches: losses, training, prediction."""
import math

import torch
import torch.nn as nn

from wsvision.models.roi_heads import RoIHeadOutput
from wsvision.registry import MODELS

from tests.detection.helpers import (NUM_CLASSES, det_sample, synthetic_batch,
                                    tiny_detector_cfg)


def test_loss_mode_returns_finite_losses_that_reach_every_head(detector):
    detector.train()
    data = detector.data_preprocessor(synthetic_batch(), True)
    losses = detector(**data, mode='loss')
    assert set(losses) == {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls',
                           'loss_bbox'}
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    # Before training the classifier is near uniform over K + 1 classes.
    assert abs(losses['loss_cls'].item() - math.log(NUM_CLASSES + 1)) < 0.1
    sum(losses.values()).backward()
    for module in (detector.backbone, detector.rpn.head,
                   detector.roi_head.classifier, detector.roi_head.bbox_regressor):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads)


def test_tensor_mode_and_stage_methods(detector):
    detector.eval()
    data = detector.data_preprocessor(synthetic_batch(), False)
    inputs, samples = data['inputs'], data['data_samples']
    assert inputs.shape == (2, 3, 64, 64)
    with torch.no_grad():
        feats = detector.extract_feat(inputs)
        assert [tuple(f.shape) for f in feats.values()] == [
            (2, 16, 16, 16), (2, 16, 8, 8), (2, 16, 4, 4)]
        rpn = detector.rpn_proposals(inputs, feats, samples)
        assert rpn.losses == {}
        for boxes, scores in zip(rpn.proposals, rpn.scores):
            assert boxes.shape == (scores.shape[0], 4) and 0 < len(boxes) <= 100
            assert (scores >= 0).all() and (scores <= 1).all()
            assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 64).all()
        out = detector(inputs, samples, mode='tensor')
    assert isinstance(out, RoIHeadOutput)
    num = sum(out.num_per_image)
    assert out.num_per_image == [len(p) for p in rpn.proposals]
    assert out.pooled_feats.shape == (num, 16, 7, 7)
    assert out.roi_feats.shape == (num, 64)
    assert out.cls_logits.shape == (num, NUM_CLASSES + 1)
    assert out.bbox_deltas.shape == (num, 4 * NUM_CLASSES)


def test_rpn_losses_on_request_in_eval_mode(detector):
    # A teacher in eval mode can still get RPN losses (and proposals).
    detector.eval()
    data = detector.data_preprocessor(synthetic_batch(), False)
    with torch.no_grad():
        feats = detector.extract_feat(data['inputs'])
        rpn = detector.rpn_proposals(data['inputs'], feats,
                                     data['data_samples'], with_loss=True)
    assert set(rpn.losses) == {'loss_rpn_cls', 'loss_rpn_bbox'}
    assert torch.isfinite(rpn.losses['loss_rpn_cls'])


def test_overfits_two_images():
    torch.manual_seed(0)
    model = MODELS.build(tiny_detector_cfg())
    batch = synthetic_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    model.train()
    totals = []
    for _ in range(30):
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        totals.append(loss.item())
    assert all(math.isfinite(t) for t in totals)
    assert sum(totals[-5:]) / 5 < 0.5 * sum(totals[:5]) / 5, totals


def test_predict_rescales_boxes_to_the_original_image(detector):
    detector.eval()
    batch = synthetic_batch()
    with torch.no_grad():
        plain = detector(**detector.data_preprocessor(batch, False),
                         mode='predict')
        plain_boxes = [s.pred_instances.bboxes.clone() for s in plain]
        # The same 64x64 inputs, now declared as 2x downscaled 128x128 images.
        for sample in batch['data_samples']:
            sample.set_metainfo(dict(ori_shape=(128, 128),
                                     scale_factor=(0.5, 0.5)))
        scaled = detector(**detector.data_preprocessor(batch, False),
                          mode='predict')
    assert any(len(b) for b in plain_boxes)
    for boxes, sample in zip(plain_boxes, scaled):
        pred = sample.pred_instances
        assert set(pred.keys()) == {'bboxes', 'scores', 'labels'}
        assert pred.labels.dtype == torch.int64
        assert ((pred.labels >= 0) & (pred.labels < NUM_CLASSES)).all()
        torch.testing.assert_close(pred.bboxes, boxes * 2)
        assert (pred.bboxes >= 0).all() and (pred.bboxes <= 128).all()


def test_predict_clips_to_the_unpadded_image(detector):
    # A 50x40 image is padded to 64x64; boxes must stay inside 50x40.
    detector.eval()
    torch.manual_seed(1)
    data = dict(inputs=[torch.randint(0, 255, (3, 40, 50), dtype=torch.uint8)],
                data_samples=[det_sample([[0, 0, 10, 10]], [0],
                                         img_shape=(40, 50))])
    with torch.no_grad():
        detector.roi_head.score_thr = 0.0
        sample = detector(**detector.data_preprocessor(data, False),
                          mode='predict')[0]
    boxes = sample.pred_instances.bboxes
    assert len(boxes) > 0
    assert (boxes[:, [0, 2]] <= 50).all() and (boxes[:, [1, 3]] <= 40).all()


@MODELS.register_module(force=True)
class ZeroFeaturesForTest(nn.Module):
    """Feature adapter that blanks every pyramid level."""

    def forward(self, feats):
        return {name: feat * 0 for name, feat in feats.items()}


def test_feature_adapters_sit_between_neck_and_heads():
    torch.manual_seed(0)
    model = MODELS.build(dict(tiny_detector_cfg(),
                              roi_adapter=dict(type='ZeroFeaturesForTest')))
    model.eval()
    data = model.data_preprocessor(synthetic_batch(), False)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        proposals = model.rpn_proposals(data['inputs'], feats,
                                        data['data_samples']).proposals
        out = model.roi_forward(feats, proposals)
    assert feats['0'].abs().sum() > 0
    # The RPN still saw the real features, the RoI head only zeros.
    assert all(len(p) > 0 for p in proposals)
    assert out.pooled_feats.abs().sum() == 0
    assert isinstance(model.rpn_adapter, nn.Identity)
