# A Hugging Face CLIP read from a local folder (never downloaded), e.g. one
# saved with CLIPModel.save_pretrained + CLIPTokenizer.save_pretrained.
vlm = dict(type='HFCLIP', path='checkpoints/clip-vit-base-patch32')
