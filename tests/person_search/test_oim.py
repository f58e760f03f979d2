"""The OIM upper bound: the only loss that reads identities."""
import pytest
import torch
import torch.nn.functional as F

from wsvision.models.person_search import OIMLoss, ReIDBatch


def batch(person_ids):
    generator = torch.Generator().manual_seed(0)
    gt = F.normalize(torch.randn(3, 128, generator=generator), dim=1)
    return ReIDBatch(roi_embeds=gt.clone().requires_grad_(True),
                     roi_gt=torch.arange(3), gt_embeds=gt,
                     gt_image=torch.tensor([0, 0, 1]),
                     gt_instance_ids=torch.arange(3), gt_person_ids=person_ids)


def test_oim_classifies_against_the_lookup_table_before_updating_it():
    oim = OIMLoss(128, momentum=0.5, scale=30.0)
    first = batch(torch.tensor([4, -1, 1]))
    assert oim(first)['loss_oim'].detach() == 0.0  # the table was empty
    assert oim.lookup_table.filled.nonzero()[:, 0].tolist() == [1, 4]
    second = batch(torch.tensor([4, -1, 1]))
    loss = oim(second)['loss_oim']
    table = F.normalize(first.gt_embeds[[2, 0]], dim=1)  # rows 1 and 4
    logits = 30 * second.gt_embeds[[0, 2]] @ table.T
    expected = F.cross_entropy(logits, torch.tensor([1, 0]))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    loss.backward()
    assert second.roi_embeds.grad[1].abs().sum() == 0  # unlabelled: no term


def test_oim_needs_identities():
    with pytest.raises(ValueError, match='needs identities'):
        OIMLoss(128)(batch(None))
