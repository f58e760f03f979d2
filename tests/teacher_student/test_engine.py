"""The shared teacher-student engine in one process: EMA, pseudo-label
banding, class queues, weak/strong views and pseudo-label quality."""
import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.structures import InstanceData

from mmengine.logging import MessageHub

from wsvision.engine.hooks import MeanTeacherHook
from wsvision.models.teacher_student import (ClassFeatureQueue, MeanTeacher,
                                             MeanTeacherModel,
                                             PseudoLabelQualityHook,
                                             PseudoLabelQualityLog,
                                             WeakStrongViews, add_pl_stats,
                                             ema_update_, pseudo_label_quality,
                                             split_pseudo_labels)


def small_net():
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def test_ema_update_arithmetic_on_params_and_buffers():
    torch.manual_seed(0)
    teacher, student = small_net(), small_net()
    student[1].running_mean.fill_(2.0)
    student[1].num_batches_tracked.fill_(7)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    ema_update_(teacher, student, momentum=0.9)
    after, source = teacher.state_dict(), student.state_dict()
    for name in ('0.weight', '0.bias', '1.weight', '1.running_mean',
                 '1.running_var'):
        torch.testing.assert_close(after[name],
                                   0.9 * before[name] + 0.1 * source[name])
    assert int(after['1.num_batches_tracked']) == 7
    with pytest.raises(ValueError, match='momentum'):
        ema_update_(teacher, student, momentum=1.5)


def test_mean_teacher_is_frozen_eval_and_follows_the_student():
    torch.manual_seed(0)
    pair = MeanTeacher(small_net())
    assert all(not p.requires_grad for p in pair.teacher.parameters())
    assert all(p.requires_grad for p in pair.student.parameters())
    pair.train()
    assert pair.student.training and not pair.teacher.training
    with torch.no_grad():
        pair.student[0].weight.add_(1.0)
    old = pair.teacher[0].weight.clone()
    pair.update_teacher(0.5)
    torch.testing.assert_close(pair.teacher[0].weight,
                               0.5 * old + 0.5 * pair.student[0].weight)
    pair.reset_teacher()
    torch.testing.assert_close(pair.teacher[0].weight, pair.student[0].weight)


class _PairModel(MeanTeacherModel):
    def loss(self, inputs, data_samples=None):
        return dict(loss=self.student(inputs).sum())


def test_mean_teacher_model_loads_a_student_checkpoint_into_both():
    torch.manual_seed(0)
    trained = small_net()
    model = _PairModel(small_net())
    model.load_state_dict(trained.state_dict())
    for part in (model.student, model.teacher):
        for name, value in trained.state_dict().items():
            assert torch.equal(part.state_dict()[name], value), name
    # the whole model's own checkpoint loads unchanged
    model.teacher[0].bias.data.add_(1.0)
    fresh = _PairModel(small_net())
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.teacher[0].bias, model.teacher[0].bias)
    assert not torch.equal(fresh.teacher[0].bias, fresh.student[0].bias)


class _Runner:
    def __init__(self, model):
        self.model, self.iter, self.epoch = model, 0, 0


class _Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def update_teacher(self, momentum):
        self.calls.append(momentum)


def test_mean_teacher_hook_interval_start_and_epoch_modes():
    model = _Counting()
    runner = _Runner(model)
    hook = MeanTeacherHook(momentum=0.99, interval=2, start_iter=2)
    for it in range(8):
        runner.iter = it
        hook.after_train_iter(runner, it)
    # iterations 1..8 done; updates when (done - 2) % 2 == 0 and done > 2
    assert model.calls == [0.99] * 3
    epoch_hook = MeanTeacherHook(momentum=0.9, by_epoch=True)
    epoch_hook.after_train_iter(runner, 0)
    epoch_hook.after_train_epoch(runner)
    assert model.calls[-1] == 0.9 and len(model.calls) == 4
    with pytest.raises(TypeError, match='update_teacher'):
        MeanTeacherHook().before_train(_Runner(nn.Linear(1, 1)))


def test_split_pseudo_labels_bands_nms_and_class_filter():
    boxes = torch.tensor([[0, 0, 10, 10],     # hard (0.95)
                          [1, 1, 10, 10],     # uncertain, overlaps hard -> out
                          [20, 20, 30, 30],   # uncertain (0.8)
                          [21, 21, 30, 30],   # uncertain, NMS'd by the 0.8 one
                          [40, 40, 50, 50],   # below band (0.3)
                          [60, 60, 70, 70]],  # class 2, 0.7: hard via class_thr
                         dtype=torch.float32)
    scores = torch.tensor([0.95, 0.85, 0.8, 0.6, 0.3, 0.7])
    labels = torch.tensor([0, 1, 1, 1, 0, 2])
    pls = split_pseudo_labels(boxes, scores, labels, hard_thr=0.9,
                              uncertain_thr=0.5, nms_iou=0.5,
                              class_thr={2: 0.65})
    assert pls.hard.scores.tolist() == pytest.approx([0.95, 0.7])
    assert pls.hard.labels.tolist() == [0, 2]
    assert pls.uncertain.scores.tolist() == pytest.approx([0.8])
    assert pls.uncertain.bboxes.tolist() == [[20, 20, 30, 30]]
    only_novel = split_pseudo_labels(boxes, scores, labels, 0.9, 0.5,
                                     allowed_classes=[1])
    assert len(only_novel.hard) == 0
    # with no hard box of class 0 allowed, the 0.85 box survives the band
    assert only_novel.uncertain.scores.tolist() == pytest.approx([0.85, 0.8])
    with pytest.raises(ValueError, match='uncertain_thr'):
        split_pseudo_labels(boxes, scores, labels, 0.5, 0.9)


def test_class_feature_queue_fifo_and_means():
    queue = ClassFeatureQueue(num_classes=3, dim=2, size=3)
    queue.push(torch.tensor([[1., 0.], [3., 0.], [0., 4.]]),
               torch.tensor([0, 0, 2]))
    torch.testing.assert_close(queue.mean(0), torch.tensor([2., 0.]))
    assert queue.counts.tolist() == [2, 0, 1]
    queue.push(torch.tensor([[5., 0.], [7., 0.]]), torch.tensor([0, 0]))
    # queue 0 held 1, 3; adding 5, 7 overwrites the oldest (1)
    torch.testing.assert_close(queue.mean(0), torch.tensor([5., 0.]))
    torch.testing.assert_close(queue.means()[1], torch.zeros(2))
    assert queue.nonempty() == [0, 2]
    queue.push(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match='labels must lie'):
        queue.push(torch.zeros(1, 2), torch.tensor([3]))
    with pytest.raises(ValueError, match=r'\(n, 2\)'):
        queue.push(torch.zeros(1, 5), torch.tensor([0]))


def test_weak_strong_views_share_geometry_and_boxes():
    np.random.seed(0)
    img = np.random.randint(0, 255, (32, 48, 3), dtype=np.uint8)
    img[:, :24] = 10  # left half dark, so a flip is visible
    results = dict(img=img.copy(), img_shape=(32, 48), ori_shape=(32, 48),
                   gt_bboxes=np.array([[2, 3, 10, 20]], np.float32),
                   gt_bboxes_labels=np.array([1]),
                   gt_ignore_flags=np.array([False]),
                   bbox_fields=['gt_bboxes'],
                   instance_fields=['gt_bboxes', 'gt_bboxes_labels',
                                    'gt_ignore_flags'])
    views = WeakStrongViews(geometric=[dict(type='RandomFlip', prob=1.0)],
                            strong=[dict(type='InvertImg', p=1.0)])
    packed = views(results)
    weak = packed['inputs']
    strong = packed['data_samples'].strong_inputs
    assert weak.shape == strong.shape == (3, 32, 48)
    flipped = torch.from_numpy(img[:, ::-1].copy()).permute(2, 0, 1)
    assert torch.equal(weak, flipped)            # weak: geometry only
    assert torch.equal(strong, 255 - flipped)    # strong: same geometry
    assert packed['data_samples'].gt_instances.bboxes.tolist() == [
        [38, 3, 46, 20]]
    with pytest.raises(KeyError, match='NoSuchAug'):
        WeakStrongViews(strong=[dict(type='NoSuchAug')])


def test_pseudo_label_quality_matching_and_log(tmp_path):
    gt = InstanceData(bboxes=torch.tensor([[0., 0, 10, 10], [20, 20, 30, 30]]),
                      labels=torch.tensor([0, 1]))
    pred = InstanceData(
        bboxes=torch.tensor([[0., 0, 10, 10], [0, 0, 10, 11],
                             [20, 20, 30, 30], [50, 50, 60, 60]]),
        labels=torch.tensor([0, 0, 0, 1]),
        scores=torch.tensor([0.9, 0.95, 0.8, 0.7]))
    # the 0.95 box takes gt 0, its duplicate and the wrong-class box miss
    assert pseudo_label_quality(pred, gt) == (1, 4, 2)
    model = nn.Module()
    model.pl_stats = {}
    add_pl_stats(model.pl_stats, pred, gt)
    add_pl_stats(model.pl_stats, gt, gt)
    log = PseudoLabelQualityLog()
    record = log.collect(model, step=1)
    assert record['pl_precision'] == pytest.approx(3 / 6)
    assert record['pl_recall'] == pytest.approx(3 / 4)
    assert model.pl_stats == {}
    # A model's own counts are recorded and totalled alongside.
    model.pl_stats = dict(tp=0, num_pred=1, num_gt=1, unc_matched=2)
    assert log.collect(model, step=2)['unc_matched'] == 2
    model.pl_stats = dict(tp=1, num_pred=1, num_gt=1, unc_matched=3)
    log.collect(model, step=3)
    assert log.summary()['unc_matched'] == 5 and log.summary()['tp'] == 4
    log.dump(str(tmp_path))
    saved = json.loads((tmp_path / 'pl_quality.json').read_text())
    assert saved['total']['tp'] == 4 and saved['total']['unc_matched'] == 5
    assert (tmp_path / 'pl_quality.png').stat().st_size > 0


def test_pseudo_label_quality_hook_logs_and_writes(tmp_path):
    gt = InstanceData(bboxes=torch.tensor([[0., 0, 10, 10]]),
                      labels=torch.tensor([0]))
    model = nn.Module()
    runner = _Runner(model)
    runner.work_dir = str(tmp_path)
    runner.message_hub = MessageHub.get_instance('pl_quality_hook_test')
    hook = PseudoLabelQualityHook()
    for it, pred in enumerate([gt, InstanceData(bboxes=torch.zeros(0, 4),
                                                labels=torch.zeros(0).long())]):
        model.pl_stats = {}
        add_pl_stats(model.pl_stats, pred, gt)
        runner.iter = it
        hook.after_train_iter(runner, it)
    hub = runner.message_hub
    # iteration 1 had no pseudo-label: precision undefined, not logged
    assert hub.get_scalar('train/pl_precision').data[0].tolist() == [1.0]
    assert hub.get_scalar('train/pl_recall').data[0].tolist() == [1.0, 0.0]
    hook.after_train(runner)
    saved = json.loads((tmp_path / 'pl_quality.json').read_text())
    assert [r['step'] for r in saved['history']] == [0, 1]
    assert saved['total'] == dict(tp=1, num_pred=1, num_gt=2,
                                  pl_precision=1.0, pl_recall=0.5)
    assert (tmp_path / 'pl_quality.png').is_file()
