#!/usr/bin/python3
"""Reference outputs of torchvision's preprocessing for adaptd's parity test.

usage: torchvision_reference.py OUT_DIR

Writes test images (PNG: grey, grey+alpha, RGB, RGBA; JPEG: grey, RGB) of
several sizes and aspect ratios into OUT_DIR, and for each image and each
preprocessing case the floats that torchvision computes on the PIL image:

  alpha composited over the background (Image.alpha_composite), then
  convert("L") or convert("RGB"), then
  Resize((h, w)) (stretch) or Resize(shorter) + CenterCrop((h, w)),
  then ToTensor() and Normalize(mean, std).

OUT_DIR/manifest.json lists the cases; each reference is raw little-endian
float32 CHW. Needs Debian's python3-torchvision (and python3-pil).
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

SIZES = [(37, 23), (64, 64), (300, 200), (200, 300), (1, 50), (50, 1), (7, 5), (513, 257)]
CASES = [
    # name, channels, (h, w), mode, shorter side, mean, std, background
    ('grey28_stretch', 1, (28, 28), 'stretch', 0, [0.5], [0.5], (0, 0, 0)),
    ('rgb84_stretch', 3, (84, 84), 'stretch', 0, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225],
     (255, 255, 255)),
    ('rgb32x48_stretch', 3, (32, 48), 'stretch', 0, [], [], (0, 0, 0)),
    ('rgb224_crop', 3, (224, 224), 'shorter_side', 256, [0.485, 0.456, 0.406],
     [0.229, 0.224, 0.225], (255, 255, 255)),
    ('grey28_crop', 1, (28, 28), 'shorter_side', 32, [0.5], [0.5], (127, 64, 200)),
    ('rgb24x20_pad', 3, (24, 20), 'shorter_side', 9, [0.5, 0.5, 0.5], [0.25, 0.5, 1.0],
     (10, 200, 30)),
]


def make_image(width, height, mode, seed):
    """Smooth gradients, hard edges and noise, so resizing has work to do."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for c in range(4):
        fx, fy = rng.uniform(0.02, 0.3, size=2)
        base = 127 + 100 * np.sin(fx * x + c) * np.cos(fy * y + 2 * c)
        base += np.where((x // 7 + y // 5 + c) % 2 == 0, 25, -25)
        base += rng.normal(0, 12, size=base.shape)
        planes.append(np.clip(base, 0, 255).astype(np.uint8))
    if mode == 'RGBA':  # Some pixels fully transparent, some opaque.
        alpha = planes[3].astype(np.int32)
        alpha[alpha < 60] = 0
        alpha[alpha > 220] = 255
        planes[3] = alpha.astype(np.uint8)
    bands = {'L': 1, 'LA': 2, 'RGB': 3, 'RGBA': 4}[mode]
    if mode == 'LA':
        stacked = np.stack([planes[0], planes[3]], axis=2)
    else:
        stacked = np.stack(planes[:bands], axis=2)
    return Image.fromarray(stacked if bands > 1 else stacked[:, :, 0], mode)


def reference(img, channels, hw, mode, shorter, mean, std, background):
    rgba = img.convert('RGBA')
    backdrop = Image.new('RGBA', img.size, tuple(background) + (255,))
    composited = Image.alpha_composite(backdrop, rgba)
    if img.mode in ('L', 'RGB'):  # No alpha: PIL converts directly.
        composited = img
    pil = composited.convert('L' if channels == 1 else 'RGB')
    steps = []
    if mode == 'stretch':
        steps.append(T.Resize(hw, interpolation=T.InterpolationMode.BILINEAR))
    else:
        steps.append(T.Resize(shorter, interpolation=T.InterpolationMode.BILINEAR))
        steps.append(T.CenterCrop(hw))
    steps.append(T.ToTensor())
    if mean:
        steps.append(T.Normalize(mean, std))
    return T.Compose(steps)(pil)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    images = []
    seed = 1
    for (w, h) in SIZES:
        for mode, fmt in [('L', 'png'), ('LA', 'png'), ('RGB', 'png'), ('RGBA', 'png'),
                          ('L', 'jpg'), ('RGB', 'jpg')]:
            img = make_image(w, h, mode, seed)
            seed += 1
            name = f'{w}x{h}_{mode}.{fmt}'
            if fmt == 'png':
                img.save(os.path.join(out, name))
            else:
                img.save(os.path.join(out, name), quality=90)
            # The reference reads the file back, as a user's pipeline would.
            images.append((name, fmt))
    cases = []
    for name, fmt in images:
        img = Image.open(os.path.join(out, name))
        img.load()
        for (case, channels, hw, mode, shorter, mean, std, background) in CASES:
            tensor = reference(img, channels, hw, mode, shorter, mean, std, background)
            ref = f'{name}.{case}.f32'
            tensor.numpy().astype('<f4').tofile(os.path.join(out, ref))
            cases.append({'image': name, 'format': fmt, 'case': case, 'channels': channels,
                          'height': hw[0], 'width': hw[1], 'resize_mode': mode,
                          'resize_shorter_side': shorter, 'mean': mean, 'std': std,
                          'background': list(background), 'reference': ref})
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump({'torchvision': torchvision.__version__, 'torch': torch.__version__,
                   'cases': cases}, f, indent=1)
    print(f'{len(cases)} cases, torchvision {torchvision.__version__}')


if __name__ == '__main__':
    main()
