"""Score the pseudo-labels of a trained AGMM++ checkpoint on its training images.

    python tools/analysis/agmm_label_quality.py CONFIG CHECKPOINT \\
        [--num-images 256] [--thresholds 0.5 0.7 0.8 0.9 0.95] [--out q.json] \\
        [--cfg-options KEY=VALUE ...]

CONFIG is the config the checkpoint was trained with (its ``AGMMLoss``, weak
label and training set). The first ``--num-images`` training images are read
whole (no crop or flip) with their weak labels and, for this analysis only,
their dense masks. For each threshold the tool prints what the loss would
make of the unlabelled pixels at that ``threshold``: the fraction that gets
a pseudo-label (coverage) and the fraction of those that are right
(precision), over all unlabelled pixels and over the foreground ones alone.
It also prints the mIoU, against the dense masks, of the network's
prediction and of the mixture's (the weak labels where there are some, the
posterior's most probable class elsewhere): how much better the mixture
labels the training images than the network it teaches.
"""
import argparse
import json
import sys

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from wsvision.apis.model import (CheckpointError, build_model_from_cfg, check_state_dict,
                                 load_checkpoint_file)
from wsvision.datasets.io import DataError
from wsvision.evaluation.metrics.iou_metric import IoUMetric, class_areas
from wsvision.models.losses.agmm import AGMMLoss, pseudo_labels
from wsvision.registry import DATASETS
from wsvision.structures import IGNORE_INDEX, UNLABELLED
from wsvision.utils.config import ConfigError, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='a training checkpoint (with the mixture)')
    parser.add_argument('--num-images', type=int, default=256,
                        help='training images to score (default: 256)')
    parser.add_argument('--thresholds', type=float, nargs='+',
                        default=[0.5, 0.7, 0.8, 0.9, 0.95],
                        help='pseudo-label thresholds to score')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--out', help='write the scores to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.batch_size < 1:
        parser.error('--num-images and --batch-size must be positive')
    if not all(0 < t <= 1 for t in args.thresholds):
        parser.error(f'--thresholds must be in (0, 1], got {args.thresholds}')
    return args


def load_model(cfg, checkpoint: str):
    """The config's segmentor with the checkpoint's weights and mixture, in
    eval mode, and its ``AGMMLoss`` (which keeps its pseudo-label candidates)."""
    model = build_model_from_cfg(cfg)
    agmm = [loss for loss in getattr(model, 'losses', []) if isinstance(loss, AGMMLoss)]
    if not agmm or agmm[0].reference_mode:
        raise ConfigError(f'{cfg.filename}: model.losses has no AGMMLoss with '
                          'reference_mode=False: only AGMM++ makes pseudo-labels')
    state = load_checkpoint_file(checkpoint)['state_dict']
    check_state_dict(model, state, f'checkpoint {checkpoint}')
    model.load_state_dict(state)
    if not bool(agmm[0].mixture.initialised.any()):
        raise CheckpointError(f'{checkpoint}: its mixture has never been updated '
                              '(an untrained checkpoint?)')
    agmm[0].keep_candidates = True
    return model.eval(), agmm[0]


def training_images(cfg, num_images: int):
    """The training set with weak labels and dense masks, whole images."""
    dataset_cfg = cfg.train_dataloader.dataset
    loader = [t for t in dataset_cfg.pipeline if t['type'] == 'LoadWeakSegAnnotations']
    if dataset_cfg.get('weak_label') is None or not loader:
        raise ConfigError(f'{cfg.filename}: train_dataloader.dataset has no weak_label '
                          'and LoadWeakSegAnnotations')
    pipeline = [dict(type='LoadImageFromFile'), loader[0], dict(type='PackWeakSegInputs')]
    with DefaultScope.overwrite_default_scope('wsvision'):
        dataset = DATASETS.build(dict(dataset_cfg, pipeline=pipeline, keep_dense=True))
    return dataset, min(num_images, len(dataset))


class Tally:
    """Coverage and precision of the pseudo-labels at each threshold, and the
    class areas of the network's and the mixture's labelling."""

    def __init__(self, thresholds, num_classes: int, background_id):
        self.thresholds, self.K, self.background_id = thresholds, num_classes, background_id
        self.counts = {t: np.zeros(4, np.int64) for t in thresholds}
        self.unlabelled = np.zeros(2, np.int64)  # all, foreground
        self.areas = {'network': [], 'mixture': []}

    def add(self, candidates, weak, dense, network):
        """candidates: the loss's ``PseudoLabelCandidates``; weak, dense,
        network: (B, H, W) labels, masks and predictions."""
        scored = candidates.unlabelled & (dense != IGNORE_INDEX)
        foreground = scored & (dense != self.background_id)
        self.unlabelled += [int(scored.sum()), int(foreground.sum())]
        for t in self.thresholds:
            pseudo = pseudo_labels(candidates, t)
            given = scored & (pseudo != UNLABELLED)
            right = given & (pseudo == dense)
            self.counts[t] += [int(given.sum()), int(right.sum()),
                               int((given & foreground).sum()), int((right & foreground).sum())]
        mixture = torch.where(weak < self.K, weak, candidates.classes)
        for name, pred in (('network', network), ('mixture', mixture)):
            self.areas[name] += [tuple(a.numpy() for a in class_areas(p, d, self.K))
                                 for p, d in zip(pred, dense)]

    def scores(self) -> dict:
        def ratio(a, b):
            return float(a / b) if b else None  # null in the JSON

        unlabelled, foreground = self.unlabelled
        result = dict(unlabelled_pixels=int(unlabelled), foreground_pixels=int(foreground))
        for t, (given, right, fg_given, fg_right) in self.counts.items():
            result[f'threshold {t:g}'] = dict(
                coverage=ratio(given, unlabelled), precision=ratio(right, given),
                foreground_coverage=ratio(fg_given, foreground),
                foreground_precision=ratio(fg_right, fg_given))
        metric = IoUMetric()  # the mIoU of tools/test.py
        metric.dataset_meta = dict(classes=[str(k) for k in range(self.K)])
        for name, areas in self.areas.items():
            result[f'{name}_mIoU'] = metric.compute_metrics(areas)['mIoU']
        return result


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model, agmm = load_model(cfg, args.checkpoint)
    dataset, num = training_images(cfg, args.num_images)
    tally = Tally(args.thresholds, agmm.num_classes, agmm.background_id)
    with torch.no_grad():
        for start in range(0, num, args.batch_size):
            batch = pseudo_collate([dataset[i] for i in range(start,
                                                               min(num, start + args.batch_size))])
            data = model.data_preprocessor(batch, False)
            samples = data['data_samples']
            seg_logits, feat = model.encode_decode(data['inputs'])
            agmm(seg_logits=seg_logits, feat=feat, data_samples=samples)
            network = seg_logits.argmax(1)
            tally.add(agmm.last_candidates,
                      torch.cat([s.gt_weak_seg.data for s in samples]),
                      torch.cat([s.gt_sem_seg.data for s in samples]), network)
    scores = tally.scores()
    print(f'{num} training images, {scores["unlabelled_pixels"]} unlabelled pixels '
          f'({scores["foreground_pixels"]} foreground); the config\'s threshold is '
          f'{agmm.threshold:g}')
    columns = ('coverage', 'precision', 'foreground_coverage', 'foreground_precision')
    print('threshold | ' + ' | '.join(name.replace('_', ' ') for name in columns))
    for t in args.thresholds:
        row = scores[f'threshold {t:g}']
        print(f'{t:9g} | ' + ' | '.join(
            f'{"-" if row[name] is None else format(row[name], ".3f"):>{len(name)}}'
            for name in columns))
    print(f'mIoU on these images: network {scores["network_mIoU"]:.3f}, mixture (weak '
          f'labels + posterior) {scores["mixture_mIoU"]:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint, images=num,
                           scores=scores), f, indent=2)
    return scores


if __name__ == '__main__':
    try:
        main()
    except (ConfigError, CheckpointError, DataError) as e:
        sys.exit(f'error: {e}')
