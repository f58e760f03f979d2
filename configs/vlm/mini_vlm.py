# wsvision's offline mini-VLM: a small image encoder trained on Fashion-MNIST
# train images against all-MiniLM-L6-v2 caption embeddings. Train it first:
#   python tools/train_vlm.py --out work_dirs/vlm/mini_vlm.pth
vlm = dict(type='MiniVLM', checkpoint='work_dirs/vlm/mini_vlm.pth')
