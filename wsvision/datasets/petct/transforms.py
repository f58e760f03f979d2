"""MONAI dictionary transforms for PET/CT grounding samples.

Keys: ``pet`` (SUV), ``ct`` (HU) and ``label`` (0/1), each (X, Y, Z) on input
and (1, X, Y, Z) after ``EnsureChannelFirstd``; the output adds ``image``
(2, X, Y, Z) = [PET, CT].

Intensities follow the paper: PET SUV clipped to 0-10 and CT to -150..250 HU,
each scaled to [0, 1]. There is no left-right flip: the reports say "left"
and "right", and a flip would make the sentence wrong.
"""
from typing import Optional, Sequence


def petct_transforms(train: bool, crop_size: Optional[Sequence[int]] = None):
    """The MONAI ``Compose`` of one sample.

    Args:
        train: add random intensity jitter and, with ``crop_size``, a random
            crop that holds the lesion half of the time.
        crop_size: (X, Y, Z) patch size for training; ``None`` keeps the
            whole volume. Volumes smaller than it are padded.
    """
    from monai import transforms as mt
    keys = ['pet', 'ct', 'label']
    steps = [
        mt.EnsureChannelFirstd(keys, channel_dim='no_channel'),
        mt.ScaleIntensityRanged('pet', a_min=0.0, a_max=10.0, b_min=0.0,
                                b_max=1.0, clip=True),
        mt.ScaleIntensityRanged('ct', a_min=-150.0, a_max=250.0, b_min=0.0,
                                b_max=1.0, clip=True),
    ]
    if train:
        steps += [mt.RandScaleIntensityd('pet', factors=0.1, prob=0.5),
                  mt.RandShiftIntensityd('ct', offsets=0.05, prob=0.5)]
        if crop_size is not None:
            steps += [mt.SpatialPadd(keys, spatial_size=crop_size),
                      mt.RandCropByPosNegLabeld(
                          keys, label_key='label', spatial_size=crop_size,
                          pos=1, neg=1, num_samples=1)]
    steps.append(mt.ConcatItemsd(['pet', 'ct'], 'image', dim=0))
    return mt.Compose(steps)
