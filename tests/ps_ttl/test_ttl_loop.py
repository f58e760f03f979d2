"""The test-time learning loop end to end on the tiny FashionScenes preset."""
import json
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.conftest import REPO
from tests.detection.helpers import tiny_detector_cfg
from wsvision.datasets.fashion_scenes import build_variant
from wsvision.registry import MODELS

CONFIG = osp.join(REPO, 'configs', 'ps_ttl',
                  'ps-ttl_defrcn_r18_fpn_fashionscenes-fewshot-split1-1shot.py')


def tiny_fewshot_detector():
    detector = tiny_detector_cfg(num_classes=10)
    detector.update(
        rpn_adapter=dict(type='GradientDecoupledLayer', in_channels=16,
                         grad_scale=0.0),
        roi_adapter=dict(type='GradientDecoupledLayer', in_channels=16,
                         grad_scale=0.001))
    return detector


def tiny_ttl_config(data_root: str, work_dir: str, checkpoint: str) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.model.detector = tiny_fewshot_detector()
    cfg.model.data_preprocessor = cfg.model.detector['data_preprocessor']
    # The untrained detector's scores sit near 0.85 (see the checkpoint).
    cfg.model.update(hard_thr=0.8, uncertain_thr=0.3)
    cfg.test_dataloader.dataset.data_root = data_root
    for loader in ('stream_dataloader', 'shot_dataloader'):
        cfg.test_cfg[loader].dataset.data_root = data_root
    cfg.test_evaluator.ann_file = osp.join(data_root, 'test', 'instances.json')
    cfg.test_cfg.momentum = 0.5
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir, cfg.load_from = work_dir, checkpoint
    return cfg


def test_ttl_loop_adapts_and_reports_before_and_after(tiny_scenes, tmp_path):
    build_variant(tiny_scenes, 'fewshot', preset='tiny', seed=0)
    torch.manual_seed(0)
    detector = MODELS.build(tiny_fewshot_detector())
    with torch.no_grad():  # a confident class 0, so pseudo-labels exist
        detector.roi_head.classifier.fc.bias[0] = 4.0
    checkpoint = str(tmp_path / 'finetuned.pth')
    torch.save(dict(state_dict=detector.state_dict()), checkpoint)

    runner = Runner.from_cfg(tiny_ttl_config(tiny_scenes, str(tmp_path),
                                             checkpoint))
    metrics = runner.test()
    for key in ('coco/nAP50', 'coco/bAP50', 'coco/AP'):
        assert 0.0 <= metrics[key] <= 1.0 or metrics[key] == -1.0
        assert f'before_ttl/{key}' in metrics
    assert metrics['ttl/num_pred'] > 0 and metrics['ttl/num_gt'] > 0
    model = runner.model
    # The fine-tuned detector's weights reached student and teacher (AdamW
    # at lr 1e-4 moves the confident bias by about 1e-4 per step).
    for part in (model.student, model.teacher):
        assert abs(part.roi_head.classifier.fc.bias[0].item() - 4.0) < 0.01
    # The student trained; the teacher followed it by EMA.
    student_conv = model.student.roi_head.box_head.fc6.weight
    teacher_conv = model.teacher.roi_head.box_head.fc6.weight
    start = detector.roi_head.box_head.fc6.weight.to(student_conv.device)  # the runner's device
    assert not torch.equal(student_conv, start)
    assert not torch.equal(teacher_conv, start)
    assert not torch.equal(teacher_conv, student_conv)
    assert model.prototype_queue.counts.sum() > 0
    saved = json.loads((tmp_path / 'ttl_pl_quality.json').read_text())
    assert len(saved['history']) == 2  # 8 test images, batches of 4
    assert (tmp_path / 'ttl_pl_quality.png').is_file()
