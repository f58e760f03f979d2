# The no-text baseline of the paper-size network: no language gates.
_base_ = ['./contextual-net-3d_dynunet_minilm_phantompet-weak.py']

model = dict(text_encoder=None)
