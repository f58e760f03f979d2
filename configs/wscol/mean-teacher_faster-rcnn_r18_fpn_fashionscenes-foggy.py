# Ablation: the plain mean teacher of WSCoL (pseudo-boxes > 0.9 on the weak
# view, detection + KL losses on the strong view), without any WSCoL term.
_base_ = ['./wscol_faster-rcnn_r18_fpn_fashionscenes-foggy.py']
model = dict(wscol=dict(clustering=False, uncertainty=False,
                        contrast_weight=0.0, weak_strong_weight=0.0,
                        grad_discrepancy_weight=0.0))
