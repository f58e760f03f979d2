"""Person-search mAP and top-1, CUHK-SYSU style (Xiao et al., CVPR 2017).

Each query is a ground-truth box of one identity in one scene; its embedding
is compared (cosine similarity) with every detection of its gallery scenes.
In each gallery scene that holds the identity, the most similar detection
overlapping its box by IoU >= 0.5 is the one true match; every other
detection is a false match. Ranking all gallery detections by similarity:

- AP = sum over the true matches of the precision at their rank, divided by
  the number of gallery scenes that hold the identity (so an identity that
  was never detected lowers AP: this is sklearn's average precision times
  the recall rate of the official evaluation);
- top-1: whether the most similar detection is a true match.

mAP and top-1 average over the queries. The queries and galleries come from
the dataset's metainfo (``search_queries``, ``search_galleries``; see
``wsvision.datasets.person_search``).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from torchvision.ops import box_iou

from ...models.detectors.faster_rcnn import to_original_image
from ...registry import METRICS


def rank_gallery(query_embed: np.ndarray, gallery: Sequence[dict],
                 iou_thr: float = 0.5) -> dict:
    """Rank the detections of ``gallery`` scenes for one query.

    query_embed: (D,) L2-normalised.
    gallery: per scene ``dict(img_id, bboxes (d, 4), embeddings (d, D),
        target_bboxes (t, 4))``: the scene's detections and the boxes of the
        query's identity in it (t = 0 where it is absent).
    Returns ``dict(similarity (n,), matched (n,) bool, img_ids (n,),
    bboxes (n, 4), num_targets)`` over all n detections, most similar first;
    ``num_targets`` counts the scenes that hold the identity.
    """
    similarities, matched, img_ids, boxes = [], [], [], []
    num_targets = 0
    for scene in gallery:
        similarity = scene['embeddings'] @ query_embed
        is_match = np.zeros(len(similarity), dtype=bool)
        if len(scene['target_bboxes']):
            num_targets += 1
            if len(similarity):
                ious = box_iou(torch.as_tensor(scene['bboxes'], dtype=torch.float64),
                               torch.as_tensor(scene['target_bboxes'],
                                               dtype=torch.float64)).numpy()
                overlapping = np.flatnonzero(ious.max(axis=1) >= iou_thr)
                if len(overlapping):
                    is_match[overlapping[np.argmax(similarity[overlapping])]] = True
        similarities.append(similarity)
        matched.append(is_match)
        img_ids += [scene['img_id']] * len(similarity)
        boxes.append(np.asarray(scene['bboxes'], dtype=np.float64).reshape(-1, 4))
    similarity = np.concatenate(similarities) if similarities else np.zeros(0)
    order = np.argsort(-similarity, kind='stable')
    return dict(similarity=similarity[order],
                matched=(np.concatenate(matched) if matched
                         else np.zeros(0, bool))[order],
                img_ids=[img_ids[i] for i in order],
                bboxes=(np.concatenate(boxes) if boxes else np.zeros((0, 4)))[order],
                num_targets=num_targets)


def search_average_precision(matched: np.ndarray, num_targets: int) -> float:
    """AP of a ranking (``matched`` in rank order) over ``num_targets``."""
    if num_targets == 0:
        raise ValueError('a query without any target in its gallery has no AP')
    hits = np.flatnonzero(matched)
    precision_at_hits = np.arange(1, len(hits) + 1) / (hits + 1)
    return float(precision_at_hits.sum() / num_targets)


def image_record(sample, det_score_thr: float) -> dict:
    """The arrays the metric keeps of one predicted data sample."""
    pred = sample['pred_instances']
    keep = pred['scores'] >= det_score_thr
    gt = sample['gt_instances']
    for field in ('embeddings', 'person_ids'):
        if field not in gt:
            raise ValueError(f'{sample.get("img_path", "sample")}: '
                             f'gt_instances has no {field!r}; person search '
                             'needs a person-search model and dataset')
    gt_boxes = to_original_image(gt['bboxes'].float().cpu(), sample)
    return dict(img_id=sample['img_id'],
                img_path=sample.get('img_path'),
                bboxes=pred['bboxes'][keep].cpu().numpy(),
                scores=pred['scores'][keep].cpu().numpy(),
                embeddings=pred['embeddings'][keep].cpu().numpy(),
                gt_bboxes=gt_boxes.numpy(),
                gt_person_ids=gt['person_ids'].cpu().numpy(),
                gt_embeddings=gt['embeddings'].cpu().numpy())


def query_embedding(query: dict, image: dict) -> np.ndarray:
    """The embedding of the ground-truth box that is the query."""
    if len(image['gt_bboxes']) == 0:
        raise ValueError(f'query {query["query_id"]}: image {query["img_id"]} '
                         'has no ground-truth box')
    ious = box_iou(torch.as_tensor([query['bbox']], dtype=torch.float64),
                   torch.as_tensor(image['gt_bboxes'], dtype=torch.float64))[0]
    best = int(ious.argmax())
    if ious[best] < 0.5:
        raise ValueError(f'query {query["query_id"]}: box {query["bbox"]} '
                         f'matches no ground-truth box of image {query["img_id"]}')
    return image['gt_embeddings'][best]


def search_queries(images: Dict, queries: List[dict],
                   galleries: Optional[Dict], iou_thr: float = 0.5):
    """Yield (query, ranking) for every query that has a target.

    images: {img_id: ``image_record``}; galleries: {query_id: [img_id]} or
    None for "every other image".
    """
    for query in queries:
        if query['img_id'] not in images:
            raise ValueError(f'query {query["query_id"]}: image '
                             f'{query["img_id"]} was not evaluated')
        embed = query_embedding(query, images[query['img_id']])
        gallery_ids = (galleries[query['query_id']] if galleries is not None
                       else [i for i in images if i != query['img_id']])
        gallery = []
        for img_id in gallery_ids:
            if img_id not in images:
                raise ValueError(f'query {query["query_id"]}: gallery image '
                                 f'{img_id} was not evaluated')
            image = images[img_id]
            gallery.append(dict(
                img_id=img_id, bboxes=image['bboxes'],
                embeddings=image['embeddings'],
                target_bboxes=image['gt_bboxes'][
                    image['gt_person_ids'] == query['person_id']]))
        ranking = rank_gallery(embed, gallery, iou_thr)
        if ranking['num_targets']:
            yield query, ranking


@METRICS.register_module()
class PersonSearchMetric(BaseMetric):
    """Query -> gallery search: ``search/mAP`` and ``search/top1`` in [0, 1].

    Args:
        det_score_thr: detections below this score are not searched.
        iou_thr: IoU for a detection to be the query's identity (0.5).
    """

    default_prefix = 'search'

    def __init__(self, det_score_thr: float = 0.5, iou_thr: float = 0.5,
                 **kwargs):
        super().__init__(**kwargs)
        self.det_score_thr, self.iou_thr = det_score_thr, iou_thr

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(image_record(sample, self.det_score_thr)
                            for sample in data_samples)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        meta = self.dataset_meta or {}
        if 'search_queries' not in meta:
            raise ValueError('PersonSearchMetric: the dataset metainfo has no '
                             'search_queries; use a person-search dataset')
        images = {record['img_id']: record for record in results}
        aps, top1 = [], []
        for _, ranking in search_queries(images, meta['search_queries'],
                                         meta.get('search_galleries'),
                                         self.iou_thr):
            aps.append(search_average_precision(ranking['matched'],
                                                ranking['num_targets']))
            top1.append(float(ranking['matched'][:1].any()))
        if not aps:
            raise ValueError('PersonSearchMetric: no query has a target in '
                             'its gallery')
        return dict(mAP=float(np.mean(aps)), top1=float(np.mean(top1)),
                    num_queries=len(aps))
