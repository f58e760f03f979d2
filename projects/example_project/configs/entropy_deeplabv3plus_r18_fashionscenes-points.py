_base_ = ['../../../configs/deeplabv3plus/deeplabv3plus_r18_fashionscenes-full.py']
custom_imports = dict(imports=['wsvision', 'example_project'],
                      allow_failed_imports=False)

train_dataloader = dict(dataset=dict(weak_label='points'))
model = dict(losses=[
    dict(type='PartialCrossEntropyLoss'),
    dict(type='EntropyMinimisationLoss', loss_weight=0.1),
])
