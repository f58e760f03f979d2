# WSCoL with the paper's teacher update: once per epoch (here one pass over the
# 2000 foggy training scenes at batch size 8 = 250 iterations), keep rate 0.9.
_base_ = ['./wscol_faster-rcnn_r18_fpn_fashionscenes-foggy.py']
custom_hooks = [
    dict(type='MeanTeacherHook', momentum=0.9, interval=250),
    dict(type='PseudoLabelQualityHook'),
    dict(type='RandomStateHook'), dict(type='NonFiniteLossHook'),
    dict(type='WeightsDigestHook'),
]
