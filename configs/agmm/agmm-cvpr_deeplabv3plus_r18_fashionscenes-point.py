# AGMM as in the CVPR 2023 reference code (sigma = 1, channel-mean L1
# distance, no mixture weights, no online EM) on FashionScenes points, to
# compare with AGMM++ (agmm_deeplabv3plus_r18_fashionscenes-point.py).
_base_ = './agmm-cvpr_deeplabv3plus_r18_fashionscenes-scribble.py'
train_dataloader = dict(dataset=dict(weak_label='points'))
