# Target-domain oracle for source-free adaptation: the FashionScenes baseline
# trained on the foggy domain's training images with their hidden labels
# (`foggy/train/instances_hidden.json`, never used by the adaptation methods)
# and evaluated on foggy val / test. It bounds what adaptation can reach.
_base_ = ['./faster-rcnn_r18_fpn_fashionscenes.py']
data_root = 'data/fashion_scenes/foggy'

train_dataloader = dict(dataset=dict(
    data_root=data_root, split='train',
    ann_file='train/instances_hidden.json'))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
val_evaluator = [
    dict(type='CocoMetric', ann_file=f'{data_root}/val/instances.json'),
    dict(type='VOCMetric'),
]
test_evaluator = [
    dict(type='CocoMetric', ann_file=f'{data_root}/test/instances.json'),
    dict(type='VOCMetric'),
]
