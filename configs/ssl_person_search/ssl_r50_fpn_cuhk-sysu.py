# Full SSL on CUHK-SYSU (read from its .mat annotations), gallery size 100:
# the PRW model, pipelines and schedule (26 epochs, steps at 16 and 22,
# batch 4) on another data set. No instance masks: the exemplar crops keep
# their whole box.
_base_ = ['./ssl_r50_fpn_prw.py']
dataset_type = 'CUHKSYSUDataset'
data_root = 'data/CUHK-SYSU'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                    gallery_size=100))
