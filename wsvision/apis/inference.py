"""Inference on images and volumes outside a runner.

Every function takes one input or a batch (a list, or a 4-D array of
images) and returns one typed data sample or a list of them, in the same
order. Images are file paths or uint8 RGB arrays (H, W, 3) (a (H, W) grey
array is repeated to three channels); they go through the config's test
pipeline without its loading steps, then ``model.test_step``.
"""
import os
from typing import List, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..datasets.io import read_image
from ..registry import TRANSFORMS
from ..structures import DetDataSample, SegDataSample

ImageInput = Union[str, os.PathLike, np.ndarray]


def _as_list(inputs, single_ndim: int):
    """(list of inputs, whether one input was given)."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == single_ndim:
            return [inputs], True
        if inputs.ndim == single_ndim + 1:
            return list(inputs), False
        raise ValueError(f'expected an array of {single_ndim} (one input) or '
                         f'{single_ndim + 1} (a batch) dimensions, got shape '
                         f'{inputs.shape}')
    if isinstance(inputs, (list, tuple)):
        return list(inputs), False
    return [inputs], True


def load_image(item: ImageInput) -> dict:
    """A pipeline ``results`` dict for one path or RGB array."""
    if isinstance(item, (str, os.PathLike)):
        img = read_image(os.fspath(item))
        results = dict(img_path=os.fspath(item))
    elif isinstance(item, np.ndarray):
        if item.ndim == 2:
            item = np.repeat(item[..., None], 3, axis=2)
        if item.ndim != 3 or item.shape[2] != 3 or item.dtype != np.uint8:
            raise ValueError('an image array must be uint8 RGB (H, W, 3) or '
                             f'(H, W), got {item.dtype} {item.shape}')
        img = np.ascontiguousarray(item)
        results = {}
    else:
        raise TypeError('an image must be a file path or a numpy array, got '
                        f'{type(item).__name__}')
    results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
    return results


def test_transforms(model: nn.Module) -> list:
    """The model config's test pipeline without its ``Load*`` steps."""
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise ValueError('the model has no `cfg`; build it with '
                         'wsvision.apis.init_model')
    pipeline = cfg.get('test_pipeline') or \
        cfg.test_dataloader.dataset.get('pipeline')
    if not pipeline:
        raise ValueError('the config defines no `test_pipeline` and no '
                         '`test_dataloader.dataset.pipeline`')
    return [TRANSFORMS.build(step) for step in pipeline
            if not step['type'].startswith('Load')]


def pack_image(item: ImageInput, transforms: list) -> dict:
    results = load_image(item)
    for transform in transforms:
        results = transform(results)
    return results


@torch.no_grad()
def predict_images(model: nn.Module, images: list,
                   batch_size: int = 8) -> list:
    """``model.test_step`` over images in chunks of ``batch_size``."""
    transforms = test_transforms(model)
    samples = []
    for start in range(0, len(images), batch_size):
        packed = [pack_image(item, transforms)
                  for item in images[start:start + batch_size]]
        samples += model.test_step(dict(
            inputs=[p['inputs'] for p in packed],
            data_samples=[p['data_samples'] for p in packed]))
    return samples


def _check_field(samples: list, field: str, task: str, model) -> None:
    for sample in samples:
        if field not in sample:
            raise TypeError(f'{type(model).__name__} does not predict '
                            f'{task}: its outputs have no {field!r}')


def inference_segmentor(model: nn.Module, inputs, batch_size: int = 8
                        ) -> Union[SegDataSample, List[SegDataSample]]:
    """``SegDataSample`` (s) with ``pred_sem_seg`` (1, H, W) and
    ``seg_logits`` (K, H, W) at each input's original size."""
    images, single = _as_list(inputs, single_ndim=3)
    samples = predict_images(model, images, batch_size)
    _check_field(samples, 'pred_sem_seg', 'a segmentation', model)
    return samples[0] if single else samples


def inference_detector(model: nn.Module, inputs, batch_size: int = 8
                       ) -> Union[DetDataSample, List[DetDataSample]]:
    """``DetDataSample`` (s) with ``pred_instances`` (``bboxes`` (N, 4) xyxy
    in original-image pixels, ``scores`` (N,), ``labels`` (N,))."""
    images, single = _as_list(inputs, single_ndim=3)
    samples = predict_images(model, images, batch_size)
    _check_field(samples, 'pred_instances', 'detections', model)
    return samples[0] if single else samples


@torch.no_grad()
def box_embeddings(model: nn.Module, image: ImageInput,
                   bboxes: torch.Tensor) -> torch.Tensor:
    """L2-normalised (n, D) embeddings of xyxy boxes (n, 4) given in the
    original image's pixels.

    A person-search model (``PersonSearchRCNN``) provides ``embed(feats,
    boxes)``, its re-identification head; a plain detector falls back on the
    RoI head's box features (``roi_forward(...).roi_feats``).
    """
    packed = pack_image(image, test_transforms(model))
    data = model.data_preprocessor(dict(inputs=[packed['inputs']],
                                        data_samples=[packed['data_samples']]),
                                   False)
    meta = data['data_samples'][0].metainfo
    w_scale, h_scale = meta.get('scale_factor', (1.0, 1.0))
    boxes = bboxes.float().reshape(-1, 4).to(data['inputs'].device) * \
        bboxes.new_tensor([w_scale, h_scale, w_scale, h_scale]).float().to(
            data['inputs'].device)
    feats = model.extract_feat(data['inputs'])
    if hasattr(model, 'embed'):
        embeddings = model.embed(feats, [boxes])
    else:
        embeddings = model.roi_forward(feats, [boxes]).roi_feats
    return F.normalize(embeddings.flatten(1), dim=1)


def inference_person_search(model: nn.Module, query: ImageInput,
                            query_bbox: Sequence[float], gallery,
                            batch_size: int = 8
                            ) -> Union[DetDataSample, List[DetDataSample]]:
    """Find the person in ``query_bbox`` (xyxy, query-image pixels) in each
    gallery image.

    Returns a ``DetDataSample`` per gallery image whose ``pred_instances``
    (the detected persons) carry ``similarity`` (N,), the cosine similarity
    of each box's embedding to the query's, sorted best first. Embeddings
    are the ``pred_instances.embeddings`` a person-search model predicts,
    else those of ``box_embeddings``.
    """
    query_bbox = torch.as_tensor(query_bbox, dtype=torch.float32)
    if query_bbox.shape != (4, ):
        raise ValueError('query_bbox must be 4 numbers (x1, y1, x2, y2), got '
                         f'shape {tuple(query_bbox.shape)}')
    query_embedding = box_embeddings(model, query, query_bbox[None])[0]
    images, single = _as_list(gallery, single_ndim=3)
    samples = predict_images(model, images, batch_size)
    _check_field(samples, 'pred_instances', 'detections', model)
    for image, sample in zip(images, samples):
        instances = sample.pred_instances
        if 'embeddings' in instances:
            embeddings = F.normalize(instances.embeddings.flatten(1), dim=1)
        else:
            embeddings = box_embeddings(model, image, instances.bboxes)
        similarity = embeddings @ query_embedding
        instances.similarity = similarity
        sample.pred_instances = instances[similarity.argsort(descending=True)]
        sample.set_metainfo(dict(query_bbox=query_bbox.tolist()))
    return samples[0] if single else samples


def _load_volume(item, what: str) -> np.ndarray:
    if isinstance(item, (str, os.PathLike)):
        from ..datasets.petct.nifti import load_volume
        return load_volume(os.fspath(item), what)[0]
    volume = np.asarray(item, dtype=np.float32)
    if volume.ndim != 3:
        raise ValueError(f'a {what} must be (X, Y, Z), got shape '
                         f'{volume.shape}')
    return volume


@torch.no_grad()
def inference_grounding(model: nn.Module, pet, ct, sentence, batch_size=1):
    """Segment the lesion that ``sentence`` refers to.

    Args:
        pet, ct: NIfTI paths or (X, Y, Z) arrays (SUV and HU) on one grid,
            or equal-length lists of them.
        sentence: the report sentence (its slice and SUV strings are
            removed before the model reads it, as in training), or a list.

    Returns:
        ``GroundingDataSample`` (s) with ``pred_mask`` (1, X, Y, Z) uint8.
    """
    from ..datasets.petct import GroundingDataSample
    from ..datasets.petct.report_text import strip_slice_and_suv
    from ..datasets.petct.transforms import petct_transforms
    single = isinstance(sentence, str)
    pets, cts, sentences = ((pet, ), (ct, ), (sentence, )) if single else (
        pet, ct, sentence)
    if not len(pets) == len(cts) == len(sentences):
        raise ValueError(f'got {len(pets)} PET, {len(cts)} CT volumes and '
                         f'{len(sentences)} sentences; expected one of each '
                         'per sample')
    transform = petct_transforms(train=False)
    samples = []
    for pet_item, ct_item, text in zip(pets, cts, sentences):
        pet_volume = _load_volume(pet_item, 'PET volume')
        ct_volume = _load_volume(ct_item, 'CT volume')
        if pet_volume.shape != ct_volume.shape:
            raise ValueError(f'PET volume {pet_volume.shape} and CT volume '
                             f'{ct_volume.shape} are not on one grid')
        image = transform(dict(pet=pet_volume, ct=ct_volume,
                               label=np.zeros_like(pet_volume)))['image']
        sample = GroundingDataSample(metainfo=dict(
            sentence=text, text=strip_slice_and_suv(text)))
        samples.append((torch.as_tensor(np.asarray(image)), sample))
    outputs = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        outputs += model.test_step(dict(inputs=[c[0] for c in chunk],
                                        data_samples=[c[1] for c in chunk]))
    _check_field(outputs, 'pred_mask', 'a grounding mask', model)
    return outputs[0] if single else outputs
