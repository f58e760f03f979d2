# Ablation row 3: stratified assignment + online mining, no reweighting.
_base_ = ['./marvel-ovd_r18_fpn_fashionscenes-ovd.py']
model = dict(reweight=False)
