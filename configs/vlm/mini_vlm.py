# wsvision's offline mini-VLM: a small image encoder trained on Fashion-MNIST
# train images against all-MiniLM-L6-v2 caption embeddings (zero-shot 87.3% on
# Fashion-MNIST test). The repository ships the one trained by
#   python tools/train_vlm.py --out work_dirs/vlm/mini_vlm.pth
# (its file name carries its sha256 prefix, checked on load); point
# `checkpoint` at your own to use another.
vlm = dict(type='MiniVLM', checkpoint='checkpoints/mini-vlm_fashion-mnist-c5dc2738.pth')
