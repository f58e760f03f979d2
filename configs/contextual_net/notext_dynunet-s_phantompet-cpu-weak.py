# The no-text baseline: the same DynUNet and schedule without the sentence.
# With several lesions in a volume it cannot know which one is meant.
_base_ = ['./contextual-net-3d_dynunet-s_minilm_phantompet-cpu-weak.py']

model = dict(text_encoder=None)
