# AGMM++ trained on FashionScenes image-level tags: class activation maps
# seed the labels and the mixture refines them. The CAMs are the logits,
# trained as a multi-label classifier over globally pooled logits
# (`loss_cls`). The fill prior takes the seeds: in each crop, every tagged
# item class takes the 10% of pixels where its CAM is highest (about the
# area of an average item: the `cpu` builder's items are 24-44 px boxes on a
# 64 px canvas; 2.5%, well under the smallest item, left the network
# calling only a third of the item pixels foreground), and background the
# half of the crop where the tagged items' CAMs are lowest. The
# classifier trains alone for the first 1500 iterations (its CAMs seed
# nothing until they mean something), then the seeds and pseudo-labels ramp
# in over 500.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='tags'))
model = dict(losses=[dict(_base_.model.losses[0], warmup_start=1500, warmup_iters=500,
                          fill_ratio=dict(tag=0.1, background=0.5))])
