# Weak baseline + dynamic multi-label learning (main-branch memory only): no
# exemplar branch, no scale-invariant loss.
_base_ = ['./_base_/ssl_r18_fpn_fashionscenes-ps.py']
model = dict(reid_loss=dict(multi_label=True, exemplar_branch=False,
                            scale_invariant=False))
