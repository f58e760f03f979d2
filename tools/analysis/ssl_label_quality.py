"""Score the SSL multi-labels of a trained person-search checkpoint.

    python tools/analysis/ssl_label_quality.py CONFIG CHECKPOINT \\
        [--epochs 0 8] [--out labels.json] [--cfg-options KEY=VALUE ...]

CONFIG is the config the checkpoint was trained with (its ``reid_loss`` gives
the memories and the threshold schedule; its training set gives the
instances). The hidden training identities (``identities_hidden.json`` of a
FashionScenes person_search build) are read for this analysis only. For each
epoch it prints the labels' threshold, positives per instance, precision and
recall, how often the nearest entry of another scene is the same identity,
and the cosine between entries of different identities (see
``wsvision.evaluation.multi_label_quality``).
"""
import argparse
import json
import sys

import torch
from mmengine.config import DictAction
from mmengine.registry import DefaultScope

from wsvision.apis.model import CheckpointError, load_checkpoint_file
from wsvision.datasets.io import DataError
from wsvision.evaluation.multi_label_quality import multi_label_quality
from wsvision.models.person_search.ssl import SSLLoss, label_threshold
from wsvision.registry import DATASETS, MODELS
from wsvision.utils.config import ConfigError, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='a training checkpoint (with its memories)')
    parser.add_argument('--epochs', type=float, nargs='+', default=[0.0, 8.0],
                        help='epochs whose label threshold to score (default: 0 8)')
    parser.add_argument('--out', help='write the scores to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


def training_identities(dataset_cfg) -> torch.Tensor:
    """(N,) hidden identity of every training instance, by ``instance_id``."""
    dataset_cfg = dict(dataset_cfg, pipeline=[], with_identities=True)
    with DefaultScope.overwrite_default_scope('wsvision'):
        dataset = DATASETS.build(dataset_cfg)
    pairs = [(inst['instance_id'], inst['person_id'])
             for index in range(len(dataset))
             for inst in dataset.get_data_info(index)['instances']]
    identities = torch.full((max(k for k, _ in pairs) + 1, ), -1, dtype=torch.long)
    for key, identity in pairs:
        identities[key] = identity
    return identities


def load_loss(cfg, checkpoint: str) -> SSLLoss:
    """The config's ``SSLLoss`` with the checkpoint's memories."""
    loss_cfg = cfg.model.get('reid_loss')
    if loss_cfg is None or loss_cfg.get('type') != 'SSLLoss':
        raise ConfigError(f'model.reid_loss is {loss_cfg and loss_cfg.get("type")!r}, '
                          'not SSLLoss: only SSL keeps multi-label memories')
    with DefaultScope.overwrite_default_scope('wsvision'):
        loss = MODELS.build(dict(dict(embed_dim=cfg.model.reid_head.embed_dim),
                                 **loss_cfg))
    state = load_checkpoint_file(checkpoint)['state_dict']
    prefix = 'reid_loss.'
    own = {k[len(prefix):]: v for k, v in state.items()
           if k.startswith(prefix + 'main_memory.') or k.startswith(prefix + 'exemplar_memory.')}
    if 'main_memory.features' not in own:
        raise CheckpointError(f'{checkpoint}: no {prefix}main_memory (was it '
                              'published --inference-only?)')
    size = len(own['main_memory.features'])
    if loss.exemplar_branch and len(own.get('exemplar_memory.features', ())) != size:
        raise CheckpointError(f'{checkpoint}: no {prefix}exemplar_memory, but the '
                              'config has exemplar_branch=True; pass the config '
                              'it was trained with')
    try:
        loss.load_state_dict(own, strict=False)
    except RuntimeError as e:
        raise CheckpointError(f'{checkpoint}: its memories do not fit the '
                              f'reid_loss of the config: {e}') from e
    return loss


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    loss = load_loss(cfg, args.checkpoint)
    identities = training_identities(cfg.train_dataloader.dataset)
    memory, valid = loss.memory()
    if len(identities) != len(memory):
        raise DataError(f'{args.checkpoint}: memory has {len(memory)} rows but the '
                        f'training set of {args.config} has {len(identities)} instances')
    results = {}
    for epoch in args.epochs:
        scores = multi_label_quality(memory, valid, loss.main_memory.tags, identities,
                                     label_threshold(epoch, *loss.threshold),
                                     loss.scene_prior)
        results[f'epoch {epoch:g}'] = scores
        print(f'epoch {epoch:g}: t={scores["threshold"]:.3f}  positives/instance '
              f'{scores["positives_per_instance"]:.2f}  precision {scores["precision"]:.3f}  '
              f'recall {scores["recall"]:.3f}  nearest other-scene entry same identity '
              f'{scores["nn_same_identity"]:.3f}  cosine between identities mean '
              f'{scores["cosine_other_mean"]:.3f} / p99 {scores["cosine_other_p99"]:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           scores=results), f, indent=2)
    return results


if __name__ == '__main__':
    try:
        main()
    except (ConfigError, CheckpointError, DataError) as e:
        sys.exit(f'error: {e}')
