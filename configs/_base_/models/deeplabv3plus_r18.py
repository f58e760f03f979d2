# DeepLabV3+ on a narrow ResNet-18 trained from scratch, output stride 8.
data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    pad_size_divisor=8)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='ResNet', depth=18, base_channels=32,
                  strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)),
    decode_head=dict(type='DeepLabV3PlusHead', in_channels=256,
                     low_level_channels=32, channels=128,
                     dilations=(2, 4, 6), num_classes=11),
    losses=[dict(type='PartialCrossEntropyLoss')])
