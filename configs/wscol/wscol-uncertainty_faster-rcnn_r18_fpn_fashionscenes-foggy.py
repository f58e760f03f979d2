# Ablation: the contrastive model plus the background-uncertainty estimator
# (foreground-only contrast where the NMS keep-count variance exceeds 20);
# no weak-to-strong guidance.
_base_ = ['./wscol_faster-rcnn_r18_fpn_fashionscenes-foggy.py']
model = dict(wscol=dict(weak_strong_weight=0.0, grad_discrepancy_weight=0.0))
