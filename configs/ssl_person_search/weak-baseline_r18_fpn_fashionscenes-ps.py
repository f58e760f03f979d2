# Weak baseline: detector + re-ID head trained on boxes only, without the SSL
# losses. Each instance is its own class against the instance memory
# (instance discrimination, the multi-label loss with self-labels only).
_base_ = ['./_base_/ssl_r18_fpn_fashionscenes-ps.py']
model = dict(reid_loss=dict(multi_label=False, exemplar_branch=False,
                            scale_invariant=False))
