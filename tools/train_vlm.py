"""Train wsvision's offline mini-VLM and report its zero-shot accuracy.

The image tower (``MiniImageEncoder``) learns, contrastively, to match single
Fashion-MNIST *train* images with the sentence embeddings of their captions;
the captions are a prompt-template ensemble ("a photo of a {}", ...) over the
10 class names, encoded by the frozen pretrained text tower (all-MiniLM-L6-v2
by default). Like photos on the web, each training image is shown either as
the plain grey Fashion-MNIST picture or tinted and pasted on a textured
background (the FashionScenes renderer), cropped loosely around the item.

Zero-shot accuracy is then measured on Fashion-MNIST *test* (never trained
on): argmax over the prompt-ensemble class embeddings, on the plain test images
and on rendered test crops. The detector never sees any of this training.

Usage::

    python tools/train_vlm.py --out work_dirs/vlm/mini_vlm.pth [--iters 800]
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from wsvision.datasets.fashion_scenes import (FASHION_CLASSES,  # noqa: E402
                                              load_fashion_mnist)
from wsvision.datasets.fashion_scenes.compose import (SceneConfig,  # noqa: E402
                                                      SourceItem, compose_scene)
from wsvision.models.vlm import (PROMPT_TEMPLATES, MiniImageEncoder,  # noqa: E402
                                 MiniVLM)
from wsvision.registry import ENCODERS  # noqa: E402


def render_crops(images: np.ndarray, labels: np.ndarray, size: int,
                 seed: int, plain_fraction: float = 0.25) -> torch.Tensor:
    """(N, 3, size, size) uint8: each item either plain grey, or rendered on
    a textured canvas and cropped around its box enlarged by 1.0-1.6x."""
    rng = np.random.default_rng(seed)
    config = SceneConfig(canvas=48, item_size=(22, 44))
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, (grey, label) in enumerate(zip(images, labels)):
        if rng.random() < plain_fraction:
            crop = np.repeat(grey[..., None], 3, axis=2)
        else:
            scene = compose_scene(rng, [SourceItem(grey, int(label) + 1, i)],
                                  config, require_all=True)
            ys, xs = np.nonzero(scene.owner == 0)
            cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
            scale = rng.uniform(1.0, 1.6)
            half_w = (xs.max() + 1 - xs.min()) * scale / 2
            half_h = (ys.max() + 1 - ys.min()) * scale / 2
            x1, x2 = int(max(cx - half_w, 0)), int(min(cx + half_w, 48))
            y1, y2 = int(max(cy - half_h, 0)), int(min(cy + half_h, 48))
            crop = scene.image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
        out[i] = cv2_resize(crop, size)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def cv2_resize(img: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA
                      if min(img.shape[:2]) > size else cv2.INTER_LINEAR)


def caption_table(text_encoder) -> torch.Tensor:
    """(K, T, D) unit-norm caption embeddings: class x template."""
    prompts = [t.format(name) for name in FASHION_CLASSES
               for t in PROMPT_TEMPLATES]
    emb = text_encoder.encode_sentences(prompts)
    return emb.view(len(FASHION_CLASSES), len(PROMPT_TEMPLATES), -1)


def contrastive_loss(image_emb: torch.Tensor, caption_emb: torch.Tensor,
                     labels: torch.Tensor, logit_scale: torch.Tensor):
    """Symmetric image-caption InfoNCE over the batch; captions of the same
    class as an image all count as its positives (there are only 10 classes,
    so a batch holds many)."""
    logits = logit_scale.exp() * image_emb @ caption_emb.t()
    positives = (labels[:, None] == labels[None, :]).float()
    targets = positives / positives.sum(1, keepdim=True)
    loss_i = -(targets * logits.log_softmax(1)).sum(1).mean()
    loss_t = -(targets * logits.t().log_softmax(1)).sum(1).mean()
    return (loss_i + loss_t) / 2


@torch.no_grad()
def zero_shot_accuracy(vlm: MiniVLM, crops: torch.Tensor,
                       labels: torch.Tensor) -> float:
    classes = vlm.class_embeddings(FASHION_CLASSES)
    correct = 0
    for start in range(0, len(crops), 512):
        emb = vlm.encode_image(crops[start:start + 512])
        correct += int(((emb @ classes.t()).argmax(1)
                        == labels[start:start + 512]).sum())
    return correct / len(crops)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='checkpoint to write')
    parser.add_argument('--iters', type=int, default=800)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--num-train', type=int, default=20000,
                        help='Fashion-MNIST train images used (rendered once)')
    parser.add_argument('--num-test', type=int, default=10000)
    parser.add_argument('--width', type=int, default=16)
    parser.add_argument('--image-size', type=int, default=32)
    parser.add_argument('--text-encoder', default='HFTextEncoder',
                        help="ENCODERS type of the text tower ('TinyTextEncoder' "
                        'for smoke tests)')
    parser.add_argument('--source', default=None,
                        help='folder of the Fashion-MNIST IDX files')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    train = load_fashion_mnist('train', args.source)
    test = load_fashion_mnist('test', args.source)
    rng = np.random.default_rng(args.seed)
    index = rng.permutation(len(train.labels))[:args.num_train]
    train_labels = torch.from_numpy(train.labels[index].astype(np.int64))
    train_crops = render_crops(train.images[index], train.labels[index],
                               args.image_size, args.seed)

    text_cfg = dict(type=args.text_encoder)
    text_encoder = ENCODERS.build(text_cfg)
    captions = caption_table(text_encoder).to(args.device)
    encoder = MiniImageEncoder(text_encoder.embed_dim, args.width).to(args.device)
    logit_scale = torch.nn.Parameter(torch.tensor(np.log(1 / 0.07),
                                                  device=args.device))
    optimizer = torch.optim.AdamW(list(encoder.parameters()) + [logit_scale],
                                  lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, args.lr, total_steps=args.iters, pct_start=0.1)
    generator = torch.Generator().manual_seed(args.seed)
    encoder.train()
    for it in range(args.iters):
        batch = torch.randint(len(train_crops), (args.batch_size,),
                              generator=generator)
        images = train_crops[batch].float().div(255).to(args.device)
        if torch.rand(1, generator=generator) < 0.5:
            images = images.flip(-1)
        labels = train_labels[batch].to(args.device)
        template = torch.randint(len(PROMPT_TEMPLATES), (args.batch_size,),
                                 generator=generator).to(args.device)
        loss = contrastive_loss(F.normalize(encoder(images), dim=-1),
                                captions[labels, template], labels,
                                logit_scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            logit_scale.clamp_(0, np.log(100))
        if it % 100 == 0 or it == args.iters - 1:
            print(f'iter {it}/{args.iters} loss {loss.item():.4f} '
                  f'scale {logit_scale.exp().item():.1f}', flush=True)

    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    state = dict(image_encoder={k: v.cpu() for k, v in
                                encoder.state_dict().items()},
                 image_size=args.image_size, width=args.width,
                 text_encoder=text_cfg)
    torch.save(state, args.out)

    vlm = MiniVLM(checkpoint=args.out).to(args.device)
    test_labels = torch.from_numpy(test.labels[:args.num_test].astype(np.int64)
                                   ).to(args.device)
    plain = torch.from_numpy(np.repeat(test.images[:args.num_test, None], 3, 1))
    rendered = render_crops(test.images[:args.num_test],
                            test.labels[:args.num_test], args.image_size,
                            args.seed + 1, plain_fraction=0.0)
    metrics = dict(
        zero_shot_acc_plain=zero_shot_accuracy(vlm, plain, test_labels),
        zero_shot_acc_rendered=zero_shot_accuracy(vlm, rendered, test_labels),
        num_test=len(test_labels), iters=args.iters, num_train=args.num_train,
        text_encoder=args.text_encoder, wall_s=round(time.time() - start, 1))
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(metrics, f, indent=1)
    print(f'zero-shot accuracy on Fashion-MNIST test ({len(test_labels)} '
          f'images): plain {metrics["zero_shot_acc_plain"]:.4f}, rendered '
          f'{metrics["zero_shot_acc_rendered"]:.4f}')
    return metrics


if __name__ == '__main__':
    main()
