# MarvelOVD (methods.md section 2) on FashionScenes `ovd` (novel classes of
# split 1: shirt, sandal, bag). Trained on base ground truth plus the offline
# VLM pseudo-labels of tools/data/make_ovd_pseudo_labels.py, with weak and
# strong views, burn-in, online mining, stratified assignment and adaptive
# reweighting; the classifier scores RoIs against frozen text embeddings of
# all 10 class names (zero background row). The ablation configs switch the
# components off one by one.
_base_ = ['../faster_rcnn/faster-rcnn_r18_fpn_fashionscenes.py']

class_names = ['t-shirt/top', 'trouser', 'pullover', 'dress', 'coat',
               'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']
novel_classes = ['shirt', 'sandal', 'bag']
vlm = dict(type='MiniVLM', checkpoint='checkpoints/mini-vlm_fashion-mnist-c5dc2738.pth')

model = dict(
    type='MarvelOVD',
    novel_classes=novel_classes,
    burn_in_iters=500,
    pl_score_thr=0.9,
    mining=True, mining_thr=0.9, mining_vlm_weight=0.5,
    reweight=True,
    strong_view=True,
    roi_head=dict(
        class_agnostic_reg=True,
        classifier=dict(_delete_=True, type='TextEmbeddingClassifier',
                        vlm=vlm, class_names=class_names, temperature=0.05),
        assigner=dict(type='StratifiedAssigner', fg_iou_thr=0.5,
                      bg_iou_thr=0.5)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadOVDAnnotations'),
    dict(type='WeakStrongViews',
         geometric=[dict(type='RandomFlip', prob=0.5)],
         pack=dict(type='PackOVDInputs')),
]
train_dataloader = dict(dataset=dict(
    type='OVDPseudoLabelDataset', ann_file='ovd/instances_train_pl.json',
    hidden_ann_file='train/instances.json', pipeline=train_pipeline))
# Two views per image make an iteration about twice the baseline's cost.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='MultiStepLR', by_epoch=False, milestones=[1500, 1800],
         gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=1000)
# COCO AP with the novel / base summary (coco/nAP50, coco/bAP50).
val_evaluator = [
    dict(type='FewShotCocoMetric', novel_classes=novel_classes,
         ann_file='data/fashion_scenes/val/instances.json'),
    dict(type='VOCMetric'),
]
test_evaluator = [
    dict(type='FewShotCocoMetric', novel_classes=novel_classes,
         ann_file='data/fashion_scenes/test/instances.json'),
    dict(type='VOCMetric'),
]
default_hooks = dict(checkpoint=dict(interval=1000))
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='WeightsDigestHook'),
    # Precision / recall of the PLs used, against hidden novel boxes.
    dict(type='PseudoLabelQualityHook'),
]
