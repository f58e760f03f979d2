"""inference_* on paths, arrays and batches; show_result."""
import numpy as np
import pytest
import torch
from mmengine.config import Config

from wsvision.apis import (init_model, inference_detector,
                           inference_grounding, inference_person_search,
                           inference_segmentor, show_result)
from wsvision.apis.inference import box_embeddings
from wsvision.datasets.io import read_image
from wsvision.structures import DetDataSample, SegDataSample

from .helpers import DEMO_IMAGE, write_tiny_det_config, write_tiny_seg_config


@pytest.fixture(scope='module')
def segmentor(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp('seg')
    return init_model(write_tiny_seg_config(folder), checkpoint=None)


@pytest.fixture(scope='module')
def detector(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp('det')
    return init_model(write_tiny_det_config(folder), checkpoint=None)


def test_segmentor_path_array_and_batches(segmentor):
    image = read_image(DEMO_IMAGE)
    from_path = inference_segmentor(segmentor, DEMO_IMAGE)
    from_array = inference_segmentor(segmentor, image)
    assert isinstance(from_path, SegDataSample)
    assert from_path.pred_sem_seg.shape == image.shape[:2]
    assert from_path.seg_logits.data.shape == (11, *image.shape[:2])
    assert from_path.img_path == DEMO_IMAGE
    assert torch.equal(from_path.pred_sem_seg.data,
                       from_array.pred_sem_seg.data)
    small = np.ascontiguousarray(image[:40, :56])
    batch = inference_segmentor(segmentor, [DEMO_IMAGE, small, image[..., 0]],
                                batch_size=2)
    assert [r.pred_sem_seg.shape for r in batch] == [(64, 64), (40, 56),
                                                     (64, 64)]
    assert torch.equal(batch[0].pred_sem_seg.data, from_path.pred_sem_seg.data)
    stacked = inference_segmentor(segmentor, np.stack([image, image]))
    assert len(stacked) == 2


def test_bad_inputs_are_named(segmentor, tmp_path):
    with pytest.raises(ValueError, match=r'uint8 RGB .*float32 \(64, 64, 3\)'):
        inference_segmentor(segmentor, np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r'got shape \(1, 1, 2, 3, 3\)'):
        inference_segmentor(segmentor, np.zeros((1, 1, 2, 3, 3), np.uint8))
    with pytest.raises(Exception, match='absent.png'):
        inference_segmentor(segmentor, str(tmp_path / 'absent.png'))


def test_detector_and_task_check(detector, segmentor):
    result = inference_detector(detector, DEMO_IMAGE)
    assert isinstance(result, DetDataSample)
    boxes = result.pred_instances.bboxes
    assert len(boxes) > 0 and boxes.shape[1] == 4
    assert (boxes >= 0).all() and (boxes <= 64).all()
    assert len(inference_detector(detector, [DEMO_IMAGE, DEMO_IMAGE])) == 2
    with pytest.raises(TypeError, match='does not predict a segmentation'):
        inference_segmentor(detector, DEMO_IMAGE)


def test_person_search_ranks_gallery_by_similarity(detector):
    image = read_image(DEMO_IMAGE)
    gallery = [DEMO_IMAGE, np.ascontiguousarray(image[:, ::-1])]
    results = inference_person_search(detector, DEMO_IMAGE, [10, 10, 40, 50],
                                      gallery)
    assert len(results) == 2
    for result in results:
        similarity = result.pred_instances.similarity
        assert len(similarity) == len(result.pred_instances.bboxes) > 0
        assert torch.all(similarity[:-1] >= similarity[1:])
        assert similarity.abs().max() <= 1 + 1e-5
        assert result.query_bbox == [10, 10, 40, 50]
    with pytest.raises(ValueError, match='query_bbox must be 4 numbers'):
        inference_person_search(detector, DEMO_IMAGE, [1, 2, 3], gallery)


def test_person_search_uses_the_models_reid_embeddings(detector, monkeypatch):
    """A model with ``embed`` (a re-ID head) ranks by those embeddings: here
    the first 8 box-feature channels, so the ranking differs from the
    fallback's."""
    def embed(feats, boxes):
        return detector.roi_forward(feats, boxes).roi_feats[:, :8]
    monkeypatch.setattr(detector, 'embed', embed, raising=False)
    result = inference_person_search(detector, DEMO_IMAGE, [10, 10, 40, 50],
                                     DEMO_IMAGE)
    boxes = result.pred_instances.bboxes
    query = box_embeddings(detector, DEMO_IMAGE, torch.tensor([[10., 10, 40,
                                                                 50]]))
    expected = box_embeddings(detector, DEMO_IMAGE, boxes) @ query[0]
    assert query.shape == (1, 8)
    torch.testing.assert_close(result.pred_instances.similarity, expected)


def test_grounding_volumes(tmp_path):
    cfg = Config(dict(
        default_scope='wsvision',
        custom_imports=dict(imports=['wsvision.models.grounding']),
        model=dict(type='ConTEXTualNet3D', filters=(4, 8, 8),
                   strides=(1, 2, 2), text_encoder=None,
                   roi_size=(16, 16, 16), sw_batch_size=1)))
    model = init_model(cfg, checkpoint=None)
    rng = np.random.default_rng(0)
    pet = rng.uniform(0, 5, (16, 16, 16)).astype(np.float32)
    ct = rng.uniform(-100, 100, (16, 16, 16)).astype(np.float32)
    sentence = 'Intense uptake in a left axillary node (SUV 7.1, slice 40).'
    result = inference_grounding(model, pet, ct, sentence)
    assert result.pred_mask.shape == (1, 16, 16, 16)
    assert result.text == strip(sentence)
    batch = inference_grounding(model, [pet, pet], [ct, ct],
                                [sentence, sentence])
    assert torch.equal(batch[1].pred_mask, result.pred_mask)
    picture = show_result((pet, ct), result)
    assert picture.ndim == 3 and picture.dtype == np.uint8
    with pytest.raises(ValueError, match='expected one of each'):
        inference_grounding(model, [pet], [ct, ct], [sentence])


def strip(sentence):
    from wsvision.datasets.petct.report_text import strip_slice_and_suv
    return strip_slice_and_suv(sentence)


def test_show_result_draws_classes_and_scores(segmentor, detector, tmp_path):
    classes = [f'class{i}' for i in range(11)]
    seg = inference_segmentor(segmentor, DEMO_IMAGE)
    picture = show_result(DEMO_IMAGE, seg, classes,
                          out_file=str(tmp_path / 'seg.png'))
    assert picture.shape[1] == 2 * 256 and picture.shape[0] > 256
    assert read_image(str(tmp_path / 'seg.png')).shape == picture.shape
    det = inference_detector(detector, DEMO_IMAGE)
    det.pred_instances.scores[:] = 0.9  # draw every box
    drawn = show_result(DEMO_IMAGE, det, classes[:10], score_thr=0.5)
    empty = det.clone()
    empty.pred_instances.scores[:] = 0.1
    not_drawn = show_result(DEMO_IMAGE, empty, classes[:10], score_thr=0.5)
    assert drawn.shape == not_drawn.shape
    assert (drawn != not_drawn).any()  # the boxes and their labels
    with pytest.raises(TypeError, match='holds no prediction'):
        show_result(DEMO_IMAGE, SegDataSample())
