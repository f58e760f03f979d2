# Ablation: mean teacher + mapping network, memory bank / prototypes,
# prototype-guided clustering and the supervised contrast on strong features
# (background always contrasted; no weak-to-strong guidance).
_base_ = ['./wscol_faster-rcnn_r18_fpn_fashionscenes-foggy.py']
model = dict(wscol=dict(uncertainty=False, weak_strong_weight=0.0,
                        grad_discrepancy_weight=0.0))
