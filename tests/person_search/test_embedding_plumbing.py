"""Where the re-ID embeddings of ``PersonSearchRCNN`` come from: each box is
pooled from its own image and place, the queries' (ground-truth) embeddings
go to the right samples, and query and gallery features take the same path
through ``predict`` and the metric (boxes rescaled to the original image)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.conftest import REPO
from wsvision.evaluation.metrics.person_search_metric import PersonSearchMetric
from wsvision.registry import MODELS
from wsvision.structures import DetDataSample, InstanceData

TINY_MODEL = {
    'model.backbone.base_channels': 8, 'model.neck.in_channels': [8, 16, 32, 64],
    'model.neck.out_channels': 16, 'model.rpn.in_channels': 16,
    'model.roi_head.in_channels': 16, 'model.roi_head.fc_channels': 64,
}


def tiny_model():
    init_default_scope('wsvision')
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/ssl_person_search/oim-supervised_r18_fpn_fashionscenes-ps.py'))
    cfg.merge_from_dict(TINY_MODEL)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def coordinate_features(batch: int, size: int = 64, channels: int = 16):
    """Pyramid levels whose channel 0 is the x and channel 1 the y of each
    cell centre (torchvision's RoIAlign convention: cell i covers
    [i * stride, (i + 1) * stride)), and channel 2 the image index."""
    feats = {}
    for name, stride in zip('0123', (4, 8, 16, 32)):
        cells = size // stride
        centres = torch.arange(cells, dtype=torch.float32) * stride
        level = torch.zeros(batch, channels, cells, cells)
        level[:, 0] = centres[None, None, :]
        level[:, 1] = centres[None, :, None]
        level[:, 2] = torch.arange(batch, dtype=torch.float32)[:, None, None]
        feats[name] = level
    return feats


def test_pooled_features_come_from_each_boxs_own_image_and_place():
    model = tiny_model()
    boxes = [torch.tensor([[8., 16., 40., 48.], [28., 4., 60., 28.]]),
             torch.tensor([[0., 0., 24., 24.]])]
    pooled = model.pool(coordinate_features(2), boxes)
    assert pooled.shape[:2] == (3, 16)
    centres = torch.tensor([[24., 32.], [44., 16.], [12., 12.]])
    # RoIAlign samples at (i + 0.5) * bin of a box in feature cells, which
    # are at the cell's corner in input pixels: the mean lies within a
    # quarter-stride of the box centre.
    mean_xy = pooled[:, :2].mean(dim=(2, 3))
    assert torch.allclose(mean_xy, centres, atol=2.5)
    assert pooled[:, 2].mean(dim=(1, 2)).tolist() == [0.0, 0.0, 1.0]


def sample(img_id, boxes, person_ids, scale=1.0, size=64):
    data_sample = DetDataSample(metainfo=dict(
        img_id=img_id, img_path=f'{img_id}.png', img_shape=(size, size),
        ori_shape=(int(size / scale), int(size / scale)),
        scale_factor=(scale, scale)))
    if boxes is None:  # a sample without ground truth
        return data_sample
    data_sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
        labels=torch.zeros(len(boxes), dtype=torch.long),
        person_ids=torch.tensor(person_ids, dtype=torch.long))
    return data_sample


def gt_as_detections(model):
    """``detect`` that returns the ground-truth boxes (input pixels)."""
    def detect(inputs, data_samples):
        feats = model.extract_feat(inputs)
        boxes = [s.gt_instances.bboxes.clone() if 'gt_instances' in s
                 else torch.zeros(0, 4) for s in data_samples]
        return feats, [InstanceData(
            bboxes=b, scores=torch.ones(len(b)),
            labels=torch.zeros(len(b), dtype=torch.long)) for b in boxes]
    return detect


@torch.no_grad()
def test_gt_embeddings_keep_their_image_when_a_sample_has_no_ground_truth():
    model = tiny_model()
    model.detect = gt_as_detections(model)
    torch.manual_seed(1)
    inputs = torch.randn(2, 3, 64, 64)
    box = [[10., 12., 40., 50.]]
    reference = model.predict(inputs, [sample('a', box, [1]),
                                       sample('b', box, [2])])
    predicted = model.predict(inputs, [sample('a', None, None),
                                       sample('b', box, [2])])
    assert 'gt_instances' not in predicted[0]
    # The box of the second image is pooled from the second image.
    assert torch.allclose(predicted[1].gt_instances.embeddings,
                          reference[1].gt_instances.embeddings, atol=1e-6)
    assert not torch.allclose(predicted[1].gt_instances.embeddings,
                              reference[0].gt_instances.embeddings, atol=1e-3)


@torch.no_grad()
def test_query_and_gallery_features_agree_through_predict_and_metric():
    """The gallery scene is the query scene again, at another place in the
    batch: the query's own box must come first (similarity 1), through the
    input -> original-image rescaling of both the detections and the
    ground-truth boxes."""
    model = tiny_model()
    model.detect = gt_as_detections(model)
    torch.manual_seed(2)
    image = torch.randn(3, 64, 64)
    inputs = torch.stack([torch.randn(3, 64, 64), image, image])
    boxes = [[4., 6., 30., 40.], [30., 20., 60., 58.]]  # input pixels
    samples = [sample('other', [[20., 20., 44., 44.]], [9], scale=2.0),
               sample('query', boxes, [7, 3], scale=2.0),
               sample('gallery', boxes, [7, 3], scale=2.0)]
    predicted = model.predict(inputs, samples)
    for s in predicted:
        # Detections go back to original pixels; embeddings stay aligned.
        assert torch.allclose(s.pred_instances.embeddings,
                              s.gt_instances.embeddings, atol=1e-6)
    assert predicted[2].pred_instances.bboxes.tolist() == [
        [2., 3., 15., 20.], [15., 10., 30., 29.]]
    metric = PersonSearchMetric(det_score_thr=0.5)
    metric.dataset_meta = dict(
        search_queries=[dict(query_id=0, img_id='query', person_id=3,
                             bbox=[15., 10., 30., 29.])],  # original pixels
        search_galleries={0: ['gallery', 'other']})
    metric.process(None, [s.to_dict() for s in predicted])
    result = metric.compute_metrics(metric.results)
    assert result['mAP'] == pytest.approx(1.0)
    assert result['top1'] == 1.0
