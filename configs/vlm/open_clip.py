# An open_clip model (pip install open_clip_torch) with a local checkpoint.
vlm = dict(type='OpenCLIP', model_name='ViT-B-32',
           pretrained='checkpoints/open_clip_vit-b-32.pt')
