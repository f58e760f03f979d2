"""Two gloo processes through tools/dist_train.sh: every rank ends with the same weights."""
import json
import os.path as osp
import subprocess
import sys

import torch

from tests.conftest import REPO, SEG_CONFIG, small_seg_options
from wsvision.engine import state_dict_digest


def test_dist_train_two_gloo_ranks_agree_with_checkpoint(tiny_scenes, tmp_path,
                                                         cli_env):
    options = small_seg_options(tiny_scenes, max_iters=4, checkpoint_interval=4)
    env = dict(cli_env, PYTHON=sys.executable, PORT='29517')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), SEG_CONFIG, '2',
         '--work-dir', str(tmp_path), '--cfg-options', *options],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    digests = [json.loads((tmp_path / f'weights_digest_rank{r}.json').read_text())
               for r in (0, 1)]
    assert digests[0]['iter'] == digests[1]['iter'] == 4
    assert digests[0]['digest'] == digests[1]['digest']
    checkpoint = torch.load(tmp_path / 'iter_4.pth', map_location='cpu',
                            weights_only=True)
    model_params = {name: tensor for name, tensor in
                    checkpoint['state_dict'].items()
                    if not name.endswith(('running_mean', 'running_var',
                                          'num_batches_tracked'))}
    assert state_dict_digest(model_params) == digests[0]['digest']
