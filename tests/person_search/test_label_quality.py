"""The SSL multi-label analysis: scores on a hand-made memory, and the CLI on
a checkpoint whose memory is known."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import REPO, load_tool
from wsvision.evaluation.multi_label_quality import multi_label_quality

r = 1 / math.sqrt(2)


def hand_memory():
    """5 entries in 3 scenes: 0 and 2 are identity 7 (scenes 0 and 1), 1 has
    no identity, 3 (identity 8) sits between 7 and 9 at cosine 0.707."""
    memory = torch.tensor([[1., 0, 0], [0, 1, 0], [1, 0, 0], [r, 0, r], [0, 0, 1]])
    scenes = torch.tensor([0, 0, 1, 2, 2])
    identities = torch.tensor([7, -1, 7, 8, 9])
    return memory, torch.ones(5, dtype=torch.bool), scenes, identities


def test_scores_with_the_scene_prior():
    # Labels at t = 0.6: row 0 -> {2, 3}, row 2 -> {0, 3}, row 3 -> {0, 2}
    # (best of each other scene), row 4 -> {}; 2 of the 6 are right, and both
    # other-scene appearances of identity 7 are found.
    scores = multi_label_quality(*hand_memory(), threshold=0.6)
    assert scores['scored_instances'] == 4
    assert scores['positives_per_instance'] == pytest.approx(6 / 4)
    assert scores['precision'] == pytest.approx(2 / 6)
    assert scores['recall'] == pytest.approx(1.0)
    # Nearest other-scene entry: rows 0 and 2 find each other; rows 3 and 4
    # find entry 0 (identity 7).
    assert scores['nn_same_identity'] == pytest.approx(0.5)
    # Different-identity pairs 0-3, 0-4, 2-3, 2-4, 3-4.
    assert scores['cosine_other_mean'] == pytest.approx(3 * r / 5, abs=1e-6)


def test_scores_without_the_scene_prior_and_bad_input():
    memory, valid, scenes, identities = hand_memory()
    # Row 3 now also takes entry 4 of its own scene, and row 4 takes 3.
    scores = multi_label_quality(memory, valid, scenes, identities, 0.6,
                                 scene_prior=False)
    assert scores['positives_per_instance'] == pytest.approx(8 / 4)
    assert scores['precision'] == pytest.approx(2 / 8)
    # A row that was never written is neither scored nor a label.
    valid[2] = False
    scores = multi_label_quality(memory, valid, scenes, identities, 0.6)
    assert scores['scored_instances'] == 3 and scores['recall'] == 0.0
    with pytest.raises(ValueError, match='identities must have shape'):
        multi_label_quality(memory, valid, scenes, identities[:4], 0.6)
    with pytest.raises(ValueError, match='no valid memory row'):
        multi_label_quality(memory, valid, scenes, torch.full((5, ), -1), 0.6)


def test_cli_on_a_checkpoint_with_a_known_memory(tiny_person_search, tmp_path):
    """Memory rows that encode the hidden identity (an instance without one
    gets its own direction) give perfect labels; a checkpoint that does not
    fit the config, or has no memories, is refused by name."""
    tool = load_tool('analysis', 'ssl_label_quality.py')
    options = [f'train_dataloader.dataset.data_root={tiny_person_search}/person_search']
    config = f'{REPO}/configs/ssl_person_search/ssl_r18_fpn_fashionscenes-ps.py'
    cfg_identities = tool.training_identities(tool.load_config(
        config, dict(o.split('=') for o in options)).train_dataloader.dataset)
    num = len(cfg_identities)
    assert (cfg_identities >= 0).any() and num + cfg_identities.max() < 128
    keys = torch.where(cfg_identities >= 0, cfg_identities,
                       cfg_identities.max() + 1 + torch.arange(num))
    features = F.one_hot(keys, 128).float()  # the config's embed_dim
    scenes = torch.arange(num)  # every instance its own scene
    state = {'reid_loss.main_memory.features': features,
             'reid_loss.main_memory.tags': scenes,
             'reid_loss.main_memory.filled': torch.ones(num, dtype=torch.bool),
             'reid_loss.exemplar_memory.features': features,
             'reid_loss.exemplar_memory.tags': scenes,
             'reid_loss.exemplar_memory.filled': torch.ones(num, dtype=torch.bool)}
    checkpoint = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': state, 'meta': {}}, checkpoint)
    out = tmp_path / 'scores.json'
    results = tool.main([config, str(checkpoint), '--epochs', '0', '--out', str(out),
                         '--cfg-options', *options])
    scores = results['epoch 0']
    assert scores['precision'] == 1.0 and scores['recall'] == 1.0
    assert scores['nn_same_identity'] == 1.0
    assert scores['cosine_other_mean'] == 0.0
    assert json.loads(out.read_text())['scores']['epoch 0'] == scores
    # A weak-baseline checkpoint (no exemplar memory) under the SSL config.
    torch.save({'state_dict': {k: v for k, v in state.items() if 'exemplar' not in k},
                'meta': {}}, checkpoint)
    with pytest.raises(tool.CheckpointError, match='pass the config it was trained with'):
        tool.main([config, str(checkpoint), '--cfg-options', *options])
    torch.save({'state_dict': {'backbone.w': torch.zeros(1)}, 'meta': {}}, checkpoint)
    with pytest.raises(tool.CheckpointError, match='no reid_loss.main_memory'):
        tool.main([config, str(checkpoint), '--cfg-options', *options])
