"""Random inputs and error measures shared by the fused-op tests."""
import torch


def relative_error(actual, expected):
    """max |actual - expected| / max |expected| (norm-wise relative error)."""
    return ((actual - expected).abs().max() / expected.abs().max().clamp(min=1e-30)).item()


def gmm_inputs(B=2, K=3, C=5, h=4, w=6, dtype=torch.float64, device='cpu', seed=0,
               shared_means=False):
    """Random (feat, means, log_var, log_pi, valid_mask) for gmm_log_likelihood."""
    gen = torch.Generator().manual_seed(seed)
    Bm = 1 if shared_means else B

    def rand(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=gen, dtype=dtype)).to(device)

    feat = rand(B, C, h, w)
    means = rand(Bm, K, C)
    log_var = rand(Bm, K, C, scale=0.3)
    log_pi = torch.log_softmax(rand(Bm, K), dim=1)
    valid_mask = (torch.rand(B, h, w, generator=gen) > 0.25).to(device)
    return feat, means, log_var, log_pi, valid_mask
