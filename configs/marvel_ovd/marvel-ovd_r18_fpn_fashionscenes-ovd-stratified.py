# Ablation row 2: naive PLs + stratified assignment (base GT first).
_base_ = ['./marvel-ovd_r18_fpn_fashionscenes-ovd.py']
model = dict(mining=False, reweight=False)
