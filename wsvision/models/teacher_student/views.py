"""Weak and strong views of one image with shared geometry.

``WeakStrongViews`` ends a detection pipeline in place of the pack step:

1. the ``geometric`` transforms (flip / resize / crop, wsvision TRANSFORMS)
   run once, moving the boxes with the image;
2. two photometric albumentations pipelines then run on copies of that one
   image: ``weak`` (none by default) and ``strong`` (colour jitter,
   grayscale, blur, cutout by default);
3. ``pack`` (``PackDetInputs`` by default) packs the weak view as
   ``inputs``; the strong view travels as ``data_samples.strong_inputs``
   ((3, H, W) uint8, same size as ``inputs``).

Photometric changes move no pixel, so every box is valid in both views.
The albumentations seeds are drawn from numpy's global generator (seeded by
MMEngine), so a fixed run seed gives a fixed augmentation stream.
"""
from typing import Optional, Sequence

from ...datasets.transforms.formatting import image_to_tensor
from ...datasets.transforms.photometric import build_albumentations, run_albumentations
from ...registry import TRANSFORMS

#: Default strong photometric augmentation (as in Unbiased Teacher / PS-TTL).
DEFAULT_STRONG = (
    dict(type='ColorJitter', brightness=(0.6, 1.4), contrast=(0.6, 1.4),
         saturation=(0.6, 1.4), hue=(-0.1, 0.1), p=0.8),
    dict(type='ToGray', p=0.2),
    dict(type='GaussianBlur', blur_limit=(3, 7), sigma_limit=(0.1, 2.0), p=0.5),
    dict(type='CoarseDropout', num_holes_range=(1, 5),
         hole_height_range=(0.05, 0.2), hole_width_range=(0.05, 0.2),
         fill=0, p=0.7),
)

@TRANSFORMS.register_module()
class WeakStrongViews:
    """Shared geometry, then separate weak / strong photometric views.

    Args:
        geometric: wsvision transform configs applied once (e.g.
            ``[dict(type='RandomFlip', prob=0.5)]``).
        weak, strong: albumentations configs (``type`` = class name).
        pack: the packing transform of the weak view.
    """

    def __init__(self, geometric: Sequence[dict] = (),
                 weak: Sequence[dict] = (),
                 strong: Optional[Sequence[dict]] = None,
                 pack: dict = dict(type='PackDetInputs')):
        self.geometric = [TRANSFORMS.build(cfg) for cfg in geometric]
        self.weak = build_albumentations(weak, 'WeakStrongViews.weak')
        self.strong = build_albumentations(
            DEFAULT_STRONG if strong is None else strong,
            'WeakStrongViews.strong')
        self.pack = TRANSFORMS.build(pack)

    def __call__(self, results: dict) -> dict:
        for transform in self.geometric:
            results = transform(results)
        image = results['img']
        strong = run_albumentations(self.strong, image)
        results['img'] = run_albumentations(self.weak, image)
        packed = self.pack(results)
        packed['data_samples'].strong_inputs = image_to_tensor(strong)
        return packed
