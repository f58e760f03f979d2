"""Check that every DDP rank ends training with the same weights."""
import hashlib
import json
import os.path as osp

import torch
from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS


def state_dict_digest(state_dict) -> str:
    """sha256 over the names, dtypes, shapes and bytes of every tensor."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)}'.encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes()
                      if tensor.numel() else b'')
    return digest.hexdigest()


@HOOKS.register_module()
class WeightsDigestHook(Hook):
    """At the end of training, compare a digest of the weights across ranks.

    The digest covers the parameters (the weights DDP keeps in sync), not
    buffers such as BatchNorm running statistics, which each rank updates from
    its own batches. Each rank writes ``weights_digest_rank<r>.json`` to the
    work dir; a mismatch between ranks (a DDP desynchronisation) raises
    ``RuntimeError``.
    """

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        digest = state_dict_digest(dict(model.named_parameters()))
        rank = get_rank()
        with open(osp.join(runner.work_dir, f'weights_digest_rank{rank}.json'),
                  'w') as f:
            json.dump(dict(rank=rank, iter=runner.iter, digest=digest), f)
        digests = all_gather_object(digest)
        if len(set(digests)) != 1:
            raise RuntimeError(f'weights differ across ranks after training: '
                               f'{digests}')
        runner.logger.info(f'weights digest (all {len(digests)} ranks): {digest}')
