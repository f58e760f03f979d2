# Base training on the 7 base classes of split 1 (novel objects stay
# unannotated). The backbone is trained from scratch here (DeFRCN starts from
# ImageNet weights), so base training keeps the RPN's gradient (scale 1.0)
# and DeFRCN's base-training RoI scale of 0.75.
_base_ = ['./_base_/defrcn_r18_fpn_fashionscenes-fewshot-split1.py']
model = dict(rpn_adapter=dict(grad_scale=1.0),
             roi_adapter=dict(grad_scale=0.75))
load_from = None
train_dataloader = dict(
    batch_size=8, dataset=dict(ann_file='fewshot/split1_base_train.json'))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [  # replaces the fine-tuning warm-up
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, milestones=[950], gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1200, val_interval=1200)
