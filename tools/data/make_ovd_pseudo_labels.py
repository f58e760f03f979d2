"""Offline candidate pseudo-labels (PLs) for MarvelOVD (methods.md section 2).

1. A class-agnostic proposal network (Faster R-CNN with one "object" class)
   is trained on the *base* boxes of ``ovd/instances_train_base.json``
   (skipped with ``--proposal-checkpoint``).
2. It proposes up to ``--top-k`` boxes per train image (boxes under
   ``--min-size`` px dropped).
3. The VLM scores each box on crops at scales 1.0 and 1.5 (embeddings
   averaged) with a softmax over the *novel* class names only (temperature
   0.01, prompt ensemble).
4. The top-1 novel class is kept when its score exceeds 0.5; per-class NMS
   at IoU 0.6 follows.

The output (``--out``, relative to ``--data-root``; default
``ovd/instances_train_pl.json``) is COCO JSON over the train images: base
ground truth with ``"pseudo_label": false`` and PLs with ``"pseudo_label":
true`` and their VLM ``"score"``. The PL precision / recall against the
hidden novel boxes of the core ``train/instances.json`` is printed and written
next to it (``*_quality.json``); it is never used for training.

Usage::

    python tools/data/make_ovd_pseudo_labels.py --data-root data/fashion_scenes \\
        --vlm configs/vlm/mini_vlm.py --work-dir work_dirs/ovd_proposals
"""
import argparse
import json
import os.path as osp
import sys
import time

import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmengine.structures import InstanceData

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from wsvision.datasets.fashion_scenes.writer import write_json  # noqa: E402
from wsvision.datasets.io import DataError, load_json, read_image  # noqa: E402
from wsvision.models.ovd import (pseudo_label_coco,  # noqa: E402
                                 select_pseudo_labels, vlm_box_probs)
from wsvision.models.teacher_student import pseudo_label_quality  # noqa: E402
from wsvision.registry import DATASETS, ENCODERS, MODELS  # noqa: E402
from wsvision.utils.config import load_config  # noqa: E402

PROPOSAL_CONFIG = 'configs/marvel_ovd/proposal-net_r18_fpn_fashionscenes-ovd.py'
BASE_FILE = 'ovd/instances_train_base.json'
AGNOSTIC_FILE = 'ovd/instances_train_base_agnostic.json'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/fashion_scenes',
                        help='FashionScenes build holding the ovd variant')
    parser.add_argument('--vlm', default='configs/vlm/mini_vlm.py',
                        help='config file defining `vlm` (an ENCODERS entry)')
    parser.add_argument('--vlm-options', nargs='+', action=DictAction,
                        help='overrides of the VLM config, e.g. '
                        'vlm.checkpoint=PATH')
    parser.add_argument('--proposal-config', default=PROPOSAL_CONFIG)
    parser.add_argument('--proposal-checkpoint',
                        help='trained proposal network (skips training)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of the proposal-network config')
    parser.add_argument('--work-dir', default='work_dirs/ovd_proposals')
    parser.add_argument('--out', default='ovd/instances_train_pl.json',
                        help='output file, relative to --data-root')
    parser.add_argument('--score-thr', type=float, default=0.5)
    parser.add_argument('--nms-thr', type=float, default=0.6)
    parser.add_argument('--temperature', type=float, default=0.01)
    parser.add_argument('--scales', type=float, nargs='+', default=[1.0, 1.5])
    parser.add_argument('--top-k', type=int, default=100)
    parser.add_argument('--min-size', type=float, default=5.0)
    parser.add_argument('--min-objectness', type=float, default=0.0,
                        help='also drop proposals whose class-agnostic score '
                        'is below this (0: keep the top-k, as the paper)')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    return parser.parse_args(argv)


def write_agnostic_file(data_root: str, base: dict) -> str:
    """The base boxes as one class, ``object``: the proposal network's data."""
    annotations = [dict(ann, category_id=1) for ann in base['annotations']]
    write_json(osp.join(data_root, AGNOSTIC_FILE),
               dict(base, annotations=annotations,
                    categories=[dict(id=1, name='object')]))
    return AGNOSTIC_FILE


def proposal_network(args, data_root: str):
    """The trained class-agnostic proposal network (trained here unless a
    checkpoint is given) and its config."""
    cfg = load_config(args.proposal_config, args.cfg_options)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.dataset.ann_file = AGNOSTIC_FILE
    cfg.work_dir = args.work_dir
    if args.proposal_checkpoint:
        model = MODELS.build(cfg.model)
        load_checkpoint(model, args.proposal_checkpoint, map_location='cpu')
    else:
        runner = Runner.from_cfg(cfg)
        runner.train()
        model = runner.model
    return model.to(args.device).eval(), cfg


@torch.no_grad()
def propose(model, cfg, data_root: str, args) -> dict:
    """{image id: (image path, boxes (n, 4) xyxy in image pixels)}."""
    dataset = DATASETS.build(dict(
        type='FashionScenesDetDataset', data_root=data_root, split='train',
        ann_file=BASE_FILE, test_mode=True,
        pipeline=cfg.test_dataloader.dataset.pipeline))
    proposals = {}
    for start in range(0, len(dataset), args.batch_size):
        batch = pseudo_collate([dataset[i] for i in range(
            start, min(start + args.batch_size, len(dataset)))])
        for sample in model.test_step(batch):
            pred = sample.pred_instances
            order = pred.scores.argsort(descending=True)[:args.top_k]
            boxes, scores = pred.bboxes[order], pred.scores[order]
            sides = (boxes[:, 2:] - boxes[:, :2]).min(dim=1).values
            keep = (sides >= args.min_size) & (scores >= args.min_objectness)
            proposals[sample.img_id] = (sample.img_path, boxes[keep].cpu())
    return proposals


def main(argv=None) -> dict:
    args = parse_args(argv)
    init_default_scope('wsvision')
    start = time.time()
    data_root = args.data_root
    base = load_json(osp.join(data_root, BASE_FILE))
    info = base.get('info', {})
    for key in ('novel_classes', 'novel_ids'):
        if key not in info:
            raise DataError(f'{osp.join(data_root, BASE_FILE)}: info has no '
                            f'{key!r}; rebuild the ovd variant')
    novel_names, novel_ids = info['novel_classes'], info['novel_ids']
    write_agnostic_file(data_root, base)
    model, cfg = proposal_network(args, data_root)
    proposals = propose(model, cfg, data_root, args)

    vlm = ENCODERS.build(load_config(args.vlm, args.vlm_options).vlm)
    vlm = vlm.to(args.device)
    novel_embeds = vlm.class_embeddings(novel_names)
    predictions = {}
    for count, (img_id, (img_path, boxes)) in enumerate(proposals.items()):
        if count % 500 == 0:
            print(f'VLM scoring: image {count}/{len(proposals)}', flush=True)
        image = torch.from_numpy(read_image(img_path)).permute(2, 0, 1)
        probs = vlm_box_probs(vlm, image.to(args.device), boxes.to(args.device),
                              novel_embeds, args.scales, args.temperature)
        kept, scores, labels = select_pseudo_labels(
            boxes, probs.cpu(), args.score_thr, args.nms_thr)
        predictions[img_id] = InstanceData(bboxes=kept, scores=scores,
                                           labels=labels)
    settings = dict(score_thr=args.score_thr, nms_thr=args.nms_thr,
                    temperature=args.temperature, scales=args.scales,
                    top_k=args.top_k, min_size=args.min_size,
                    min_objectness=args.min_objectness,
                    vlm=dict(load_config(args.vlm, args.vlm_options).vlm))
    out_path = osp.join(data_root, args.out)
    write_json(out_path, pseudo_label_coco(base, predictions, novel_ids,
                                           settings))
    quality = hidden_quality(data_root, predictions, novel_ids)
    confident = {i: p[p.scores >= 0.9] for i, p in predictions.items()}
    quality.update({f'{k}_score_0.9': v for k, v in
                    hidden_quality(data_root, confident, novel_ids).items()})
    quality.update(num_images=len(proposals),
                   num_pseudo_labels=sum(len(p) for p in predictions.values()),
                   wall_s=round(time.time() - start, 1), **settings)
    with open(osp.splitext(out_path)[0] + '_quality.json', 'w') as f:
        json.dump(quality, f, indent=1)
    print(f'wrote {quality["num_pseudo_labels"]} pseudo-labels on '
          f'{len(proposals)} images to {out_path}; vs hidden novel boxes: '
          f'precision {quality["precision"]:.3f}, recall '
          f'{quality["recall"]:.3f}')
    return quality


def hidden_quality(data_root: str, predictions: dict, novel_ids) -> dict:
    """PL precision / recall against the hidden novel boxes (IoU 0.5)."""
    hidden = load_json(osp.join(data_root, 'train', 'instances.json'))
    boxes = {}
    for ann in hidden['annotations']:
        if ann['category_id'] in novel_ids:
            x, y, w, h = ann['bbox']
            boxes.setdefault(ann['image_id'], []).append(
                ([x, y, x + w, y + h], novel_ids.index(ann['category_id'])))
    tp = num_pred = num_gt = 0
    for img_id, pred in predictions.items():
        items = boxes.get(img_id, [])
        gt = InstanceData(
            bboxes=torch.tensor([b for b, _ in items],
                                dtype=torch.float32).reshape(-1, 4),
            labels=torch.tensor([c for _, c in items], dtype=torch.long))
        counts = pseudo_label_quality(pred, gt)
        tp, num_pred, num_gt = (a + b for a, b in
                                zip((tp, num_pred, num_gt), counts))
    return dict(tp=tp, num_pred=num_pred, num_gt=num_gt,
                precision=tp / num_pred if num_pred else 0.0,
                recall=tp / num_gt if num_gt else 0.0)


if __name__ == '__main__':
    main()
