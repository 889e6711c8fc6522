"""Reference outputs for the drift corruption tests (test/drift-reference.test.ts).

Dev-time only; needs Python 3 with NumPy and Pillow (e.g. Debian's python3-numpy, python3-pil).
Writes test/fixtures/drift/reference.npz (a few KB):

- gray_in (11, 9) and rgb_in (3, 11, 9): seeded 8-bit test images (smooth shapes plus noise; odd
  sizes, so JPEG's edge padding and 4:2:0 subsampling of odd rows and columns are exercised).
- jpeg_gray (6, 11, 9), jpeg_rgb (6, 3, 11, 9): Pillow's JPEG round trip, img.save(f, 'JPEG',
  quality=q) then Image.open(f), for q in jpeg_qualities = the CIFAR-10-C 80, 65, 58, 50, 40, and 10.
- pixelate_gray (5, 11, 9), pixelate_rgb (5, 3, 11, 9): Pillow's BOX resize to int(side * c) and
  back, c = 0.95, 0.9, 0.85, 0.75, 0.65 (severities 1-5).
- brightness_rgb, saturate_rgb (5, 3, 11, 9): the CIFAR-10-C formulas at severities 1-5 through an
  HSV round trip that follows skimage.color.rgb2hsv / hsv2rgb (re-implemented here with NumPy, as
  skimage is not needed otherwise), stored as the generator stores them: np.uint8(clip(x, 0, 1) * 255)
  (truncation).

Run from the repository root: /usr/bin/python3 scripts/make_drift_fixtures.py
"""
import io
import os

import numpy as np
from PIL import Image

OUT = os.path.join('test', 'fixtures', 'drift', 'reference.npz')
H, W = 11, 9


def test_image(rng, channels):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    planes = []
    for _ in range(channels):
        a, b, c = rng.uniform(-1, 1, 3)
        p = 0.5 + 0.25 * np.sin(a * xx + b * yy + c * 3)
        y0, x0 = rng.integers(0, H - 4), rng.integers(0, W - 4)
        p[y0:y0 + 4, x0:x0 + 5] += rng.uniform(-0.4, 0.4)
        p += rng.normal(0, 0.05, p.shape)
        planes.append(p)
    img = np.clip(np.stack(planes), 0, 1)
    return np.round(img * 255).astype(np.uint8)


def to_pil(chw):
    if chw.shape[0] == 1:
        return Image.fromarray(chw[0], mode='L')
    return Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)), mode='RGB')


def from_pil(img, channels):
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if channels == 1 else a.transpose(2, 0, 1).copy()


def jpeg(chw, q):
    buf = io.BytesIO()
    to_pil(chw).save(buf, 'JPEG', quality=q)
    buf.seek(0)
    return from_pil(Image.open(buf), chw.shape[0])


def pixelate(chw, c):
    img = to_pil(chw)
    img = img.resize((int(W * c), int(H * c)), Image.BOX)
    img = img.resize((W, H), Image.BOX)
    return from_pil(img, chw.shape[0])


def rgb2hsv(rgb):  # rgb: H x W x 3 in [0, 1]; skimage's rules
    out = np.zeros_like(rgb)
    v = rgb.max(-1)
    delta = rgb.ptp(-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        s = delta / v
    s[delta == 0] = 0
    h = np.zeros_like(v)
    with np.errstate(invalid='ignore', divide='ignore'):
        idx = rgb[..., 0] == v
        h[idx] = (rgb[idx, 1] - rgb[idx, 2]) / delta[idx]
        idx = rgb[..., 1] == v
        h[idx] = 2 + (rgb[idx, 2] - rgb[idx, 0]) / delta[idx]
        idx = rgb[..., 2] == v
        h[idx] = 4 + (rgb[idx, 0] - rgb[idx, 1]) / delta[idx]
    h = (h / 6) % 1
    h[delta == 0] = 0
    out[..., 0], out[..., 1], out[..., 2] = h, s, v
    return out


def hsv2rgb(hsv):
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hi = np.floor(h * 6)
    f = h * 6 - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    hi = np.stack([hi, hi, hi], axis=-1).astype(np.uint8) % 6
    return np.choose(hi, np.stack([np.stack((v, t, p), -1), np.stack((q, v, p), -1), np.stack((p, v, t), -1),
                                   np.stack((p, q, v), -1), np.stack((t, p, v), -1), np.stack((v, p, q), -1)]))


def brightness(chw, c):
    x = chw.transpose(1, 2, 0) / 255.
    x = rgb2hsv(x)
    x[..., 2] = np.clip(x[..., 2] + c, 0, 1)
    x = hsv2rgb(x)
    return np.uint8(np.clip(x, 0, 1) * 255).transpose(2, 0, 1).copy()


def saturate(chw, c):
    x = chw.transpose(1, 2, 0) / 255.
    x = rgb2hsv(x)
    x[..., 1] = np.clip(x[..., 1] * c[0] + c[1], 0, 1)
    x = hsv2rgb(x)
    return np.uint8(np.clip(x, 0, 1) * 255).transpose(2, 0, 1).copy()


def main():
    rng = np.random.default_rng(20190501)
    gray = test_image(rng, 1)
    rgb = test_image(rng, 3)
    qualities = [80, 65, 58, 50, 40, 10]
    pix = [0.95, 0.9, 0.85, 0.75, 0.65]
    out = {
        'gray_in': gray[0],
        'rgb_in': rgb,
        'jpeg_qualities': np.array(qualities, dtype=np.int32),
        'jpeg_gray': np.stack([jpeg(gray, q)[0] for q in qualities]),
        'jpeg_rgb': np.stack([jpeg(rgb, q) for q in qualities]),
        'pixelate_gray': np.stack([pixelate(gray, c)[0] for c in pix]),
        'pixelate_rgb': np.stack([pixelate(rgb, c) for c in pix]),
        'brightness_rgb': np.stack([brightness(rgb, c) for c in [.05, .1, .15, .2, .3]]),
        'saturate_rgb': np.stack([saturate(rgb, c) for c in [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)]]),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(OUT, os.path.getsize(OUT), 'bytes')


if __name__ == '__main__':
    main()
