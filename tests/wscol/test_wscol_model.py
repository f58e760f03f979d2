"""The WSCoL model: losses per switch, skipped images, teacher handling."""
import pytest
import torch

from tests.detection.helpers import synthetic_batch, tiny_detector_cfg
from wsvision.registry import MODELS
from wsvision.structures import DetDataSample

TINY_MAPPING = dict(conv_channels=8, num_convs=3, fc_dim=32, out_dim=16)
PLAIN_MEAN_TEACHER = dict(clustering=False, uncertainty=False, contrast_weight=0.0,
                          weak_strong_weight=0.0, grad_discrepancy_weight=0.0)


def build(**wscol):
    detector = tiny_detector_cfg()
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='WSCoL', detector=detector,
        data_preprocessor=detector.pop('data_preprocessor'),
        wscol=dict(dict(num_rois=16, mapping=TINY_MAPPING), **wscol)))
    model.init_weights()
    return model


def batch_with_strong_views(hidden=False):
    """The synthetic batch without its labels (the target domain has none);
    the strong view is the colour-inverted image."""
    batch = synthetic_batch()
    samples = []
    for labelled, image in zip(batch['data_samples'], batch['inputs']):
        sample = DetDataSample(metainfo=labelled.metainfo)
        sample.strong_inputs = 255 - image
        if hidden:
            sample.set_metainfo(dict(
                hidden_bboxes=labelled.gt_instances.bboxes.numpy(),
                hidden_labels=labelled.gt_instances.labels.numpy()))
        samples.append(sample)
    return dict(inputs=batch['inputs'], data_samples=samples)


def run_loss(model, batch):
    data = model.data_preprocessor(batch, True)
    return model(**data, mode='loss')


def test_full_wscol_has_every_loss_and_trains_student_and_mapping_only():
    model = build(score_thr=0.0)  # an untrained teacher: accept every box
    losses = run_loss(model, batch_with_strong_views())
    assert set(losses) == {'unsup_loss_rpn_cls', 'unsup_loss_rpn_bbox', 'unsup_loss_cls',
                           'unsup_loss_bbox', 'loss_kl', 'loss_contrast',
                           'loss_weak_strong', 'loss_grad_discrepancy',
                           'nms_count_var', 'fg_only_frac'}
    assert all(torch.isfinite(v) for v in losses.values())
    # The uncertainty diagnostics are logged, not optimised (mmengine sums
    # only the keys that hold 'loss').
    diagnostics = {k: losses.pop(k) for k in ('nms_count_var', 'fg_only_frac')}
    assert not any(v.requires_grad for v in diagnostics.values())
    assert diagnostics['nms_count_var'] >= 0
    assert 0 <= diagnostics['fg_only_frac'] <= 1
    sum(losses.values()).backward()
    assert model.mapping.projection.weight.grad.abs().sum() > 0
    assert model.student.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    # The memory took the teacher's pseudo-box embeddings.
    assert model.memory.bank.counts[:3].sum() > 0


def test_plain_mean_teacher_has_no_wscol_parts():
    model = build(score_thr=0.0, **PLAIN_MEAN_TEACHER)
    assert not hasattr(model, 'mapping') and not hasattr(model, 'memory')
    losses = run_loss(model, batch_with_strong_views())
    assert set(losses) == {'unsup_loss_rpn_cls', 'unsup_loss_rpn_bbox', 'unsup_loss_cls',
                           'unsup_loss_bbox', 'loss_kl'}


def test_images_without_pseudo_boxes_are_skipped():
    model = build(score_thr=1.01)  # nothing passes
    losses = run_loss(model, batch_with_strong_views())
    assert set(losses) == {'unsup_loss_skipped'}
    assert losses['unsup_loss_skipped'].item() == 0.0
    losses['unsup_loss_skipped'].backward()  # reaches every trainable parameter
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert int(model.memory.bank.counts.sum()) == 0


def test_pseudo_label_quality_uses_the_hidden_boxes_only_for_stats():
    model = build(score_thr=0.0)
    run_loss(model, batch_with_strong_views(hidden=True))
    stats = model.pl_stats
    assert stats['num_gt'] == 3 and stats['num_pred'] > 0
    assert 0 <= stats['tp'] <= stats['num_gt']
    no_hidden = build(score_thr=0.0)
    run_loss(no_hidden, batch_with_strong_views())
    assert getattr(no_hidden, 'pl_stats', None) is None


def test_a_source_detector_checkpoint_initialises_student_and_teacher():
    source = MODELS.build(tiny_detector_cfg())
    with torch.no_grad():
        source.roi_head.bbox_regressor.bias.fill_(0.5)
    model = build()
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    assert not unexpected
    assert all(k.startswith(('mapping.', 'memory.')) or k == 'step' for k in missing)
    for part in (model.student, model.teacher):
        assert torch.equal(part.roi_head.bbox_regressor.bias,
                           torch.full((3 * 4,), 0.5))


def test_update_teacher_moves_the_teacher_by_ema():
    model = build()
    with torch.no_grad():
        model.student.roi_head.bbox_regressor.bias.fill_(1.0)
    model.update_teacher(0.9)
    assert torch.allclose(model.teacher.roi_head.bbox_regressor.bias,
                          torch.full((12,), 0.1))


def test_bad_config_keys_and_views_are_reported():
    with pytest.raises(ValueError, match="unknown wscol keys \\['score_threshold'\\]"):
        build(score_threshold=0.9)
    batch = batch_with_strong_views()
    for sample in batch['data_samples']:
        sample.pop('strong_inputs')
    with pytest.raises(ValueError, match='WeakStrongViews'):
        run_loss(build(), batch)


def test_benchmark_configs_switch_on_one_part_per_row():
    from mmengine.config import Config

    from tests.conftest import REPO
    configs = {name: Config.fromfile(f'{REPO}/configs/wscol/{name}_faster-rcnn_r18_fpn_'
                                     'fashionscenes-foggy.py').model.wscol
               for name in ('mean-teacher', 'wscol-contrast', 'wscol-uncertainty', 'wscol')}
    switches = ('clustering', 'contrast_weight', 'uncertainty', 'weak_strong_weight',
                'grad_discrepancy_weight')
    on = {name: [key for key in switches if cfg[key]] for name, cfg in configs.items()}
    assert on == {'mean-teacher': [],
                  'wscol-contrast': ['clustering', 'contrast_weight'],
                  'wscol-uncertainty': ['clustering', 'contrast_weight', 'uncertainty'],
                  'wscol': list(switches)}
    assert configs['wscol'].score_thr == 0.9 and configs['wscol'].temperature == 0.07
    from wsvision.models.wscol import HIDDEN_META_KEYS
    pack = Config.fromfile(f'{REPO}/configs/wscol/wscol_faster-rcnn_r18_fpn_fashionscenes'
                           '-foggy.py').train_dataloader.dataset.pipeline[2].pack
    assert tuple(pack.meta_keys) == HIDDEN_META_KEYS
    epoch = Config.fromfile(f'{REPO}/configs/wscol/wscol_faster-rcnn_r18_fpn_'
                            'fashionscenes-foggy-epoch-ema.py')
    assert epoch.custom_hooks[0] == dict(type='MeanTeacherHook', momentum=0.9,
                                         interval=250)


def fake_teacher(pseudo_boxes, pseudo_labels, roi_boxes, variance):
    """A one-image teacher step: pseudo-boxes, RoIs = [pseudo-boxes, roi_boxes]."""
    from mmengine.structures import InstanceData

    from wsvision.models.roi_heads import RoIHeadOutput
    pseudo = InstanceData(bboxes=torch.tensor(pseudo_boxes, dtype=torch.float32),
                          labels=torch.tensor(pseudo_labels),
                          scores=torch.ones(len(pseudo_labels)))
    boxes = torch.cat([pseudo.bboxes, torch.tensor(roi_boxes, dtype=torch.float32)])
    rois = RoIHeadOutput([boxes], None, None, None, None)
    return dict(pseudo=[pseudo], rois=rois, num_pseudo=[len(pseudo)],
                variances=[variance])


def test_rois_keep_pseudo_labels_and_the_rest_are_clustered():
    model = build(bg_per_image=1, blend_max=0.0)
    # RoIs: 2 pseudo-boxes (classes 0, 2), a near copy of the first, and two
    # boxes far from both: the first (pushed as background) embeds apart, the
    # second next to class 2.
    teacher = fake_teacher([[0, 0, 20, 20], [40, 40, 60, 60]], [0, 2],
                           [[1, 1, 20, 20], [0, 40, 20, 60], [40, 0, 60, 20]], 0.0)
    emb = torch.nn.functional.normalize(torch.tensor(
        [[1., 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0.1, 1, 0]]), dim=1)
    emb = torch.cat([emb, torch.zeros(5, 12)], dim=1)  # out_dim 16
    labels = model._update_memory(emb, teacher, keep=[0])
    # Pushed: the two pseudo-boxes and the first clear-background RoI.
    assert model.memory.bank.counts.tolist() == [1, 0, 1, 1]
    # The near copy keeps its pseudo-label whatever its embedding.
    assert labels.tolist() == [0, 2, 0, 3, 2]
    plain = build(clustering=False, bg_per_image=1)
    assert plain._update_memory(emb, teacher, keep=[0]).tolist() == [0, 2, 0, 3, 3]


@pytest.mark.parametrize('variance, contrasted', [(25.0, [0, 1, 2]), (5.0, [0, 1, 2, 3, 4])])
def test_uncertain_background_is_left_out_of_the_contrast(variance, contrasted):
    from wsvision.models.detectors.wscol import supervised_contrastive_loss
    model = build(weak_strong_weight=0.0, grad_discrepancy_weight=0.0)
    generator = torch.Generator().manual_seed(0)
    strong = torch.nn.functional.normalize(torch.randn(5, 16, generator=generator), dim=1)
    labels = torch.tensor([0, 0, 1, 3, 3])  # 3 = background
    teacher = fake_teacher([], [], [[0, 0, 1, 1]] * 5, variance)
    losses = model._contrastive_losses(strong, strong, labels, teacher, [0], [5])
    expected = 0.5 * supervised_contrastive_loss(strong[contrasted], labels[contrasted])
    assert torch.allclose(losses['loss_contrast'], expected)
