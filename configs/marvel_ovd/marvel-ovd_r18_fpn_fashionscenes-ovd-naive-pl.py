# Ablation row 1, VL-PLM-style naive pseudo-labels: PLs with VLM score >= 0.9
# throughout, plain max-IoU assignment over base and PL boxes, no mining, no
# reweighting.
_base_ = ['./marvel-ovd_r18_fpn_fashionscenes-ovd.py']
model = dict(mining=False, reweight=False,
             roi_head=dict(assigner=dict(type='MaxIoUAssigner')))
