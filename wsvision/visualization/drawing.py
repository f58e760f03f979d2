"""Small drawing helpers shared by the visualisation hooks and the demo."""
import os

import cv2
import numpy as np


def palette(num_colors: int) -> np.ndarray:
    """(num_colors, 3) uint8 RGB; index 0 (background) is black.

    Hues step by the golden angle, so neighbouring class ids get distant hues.
    """
    hues = (np.arange(num_colors) * 0.618034) % 1.0
    hsv = np.stack([hues * 180, np.full(num_colors, 200),
                    np.where(np.arange(num_colors) % 2, 255, 190)], axis=1)
    colors = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    colors[0] = 0
    return colors


def overlay_mask(img: np.ndarray, mask: np.ndarray, colors: np.ndarray,
                 alpha: float = 0.5, skip=(255, 254)) -> np.ndarray:
    """Blend class colours of ``mask`` (H, W) into ``img`` (H, W, 3) uint8 RGB."""
    out = img.astype(np.float32).copy()
    for cls in np.unique(mask):
        if cls in skip or cls >= len(colors):
            continue
        region = mask == cls
        out[region] = (1 - alpha) * out[region] + alpha * colors[cls]
    return out.clip(0, 255).astype(np.uint8)


def label_strip(panels, titles, scale: int = 2) -> np.ndarray:
    """Concatenate same-size RGB panels side by side, with a title above each."""
    rows = []
    for panel, title in zip(panels, titles):
        panel = cv2.resize(panel, (panel.shape[1] * scale, panel.shape[0] * scale),
                           interpolation=cv2.INTER_NEAREST)
        header = np.full((18, panel.shape[1], 3), 255, np.uint8)
        cv2.putText(header, title, (2, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([header, panel], axis=0))
    return np.concatenate(rows, axis=1)


def write_rgb_png(path: str, img: np.ndarray) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')
