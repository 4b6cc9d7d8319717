"""An embedded default for MNIST: handwriting-like digits rendered from PIL's built-in font.

`generate_digits()` draws the ten digits with PIL's default TrueType font (bundled with Pillow,
nothing is downloaded) at several stroke widths, then gives every sample its own random affine
jitter (rotation, shear, scale, translation) and light noise, and centres it in a 28x28 uint8
image like MNIST's (white digit on black). The arrays feed `keras_mtl.datasets.
make_multi_mnist(digits, labels, num_tasks=...)` exactly as MNIST's do, so Multi-MNIST
(Levi & Ullman, "Multi-task Learning by a Top-Down Control Network", Sec. 4.1) runs offline.
"""

from __future__ import annotations

import numpy as np

DIGIT_SIZE = 28
_TEMPLATE = 56  # glyphs are drawn at twice the output size, then transformed and reduced


def _templates(stroke_widths):
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=52)
    glyphs = {}
    for digit in range(10):
        for width in stroke_widths:
            img = Image.new("L", (_TEMPLATE, _TEMPLATE), 0)
            draw = ImageDraw.Draw(img)
            draw.text((_TEMPLATE / 2, _TEMPLATE / 2), str(digit), fill=255, font=font,
                      anchor="mm", stroke_width=width, stroke_fill=255)
            glyphs[digit, width] = img
    return glyphs


def generate_digits(
    num_images: int = 10_000,
    *,
    seed: int = 0,
    max_rotation: float = 15.0,
    max_shear: float = 0.3,
    scale_range: tuple[float, float] = (0.8, 1.1),
    max_shift: float = 2.0,
    stroke_widths: tuple[int, ...] = (0, 1, 2),
) -> tuple[np.ndarray, np.ndarray]:
    """Renders `num_images` jittered digits, deterministically for a given `seed`.

    Labels are balanced (each digit `num_images // 10` or one more times) in a seeded order.

    Args:
        num_images: number of digits.
        seed: int seed.
        max_rotation: largest rotation in degrees (uniform in +-).
        max_shear: largest horizontal shear factor (uniform in +-).
        scale_range: range of the uniform scale factor.
        max_shift: largest translation in output pixels (uniform in +-).
        stroke_widths: stroke widths (in template pixels) a digit is drawn with, one at random.

    Returns:
        A tuple `(digits, labels)`: uint8 `(num_images, 28, 28)` and int64 `(num_images,)`.

    Example:

    >>> digits, labels = generate_digits(20)
    >>> digits.shape, digits.dtype
    ((20, 28, 28), dtype('uint8'))
    """
    from PIL import Image

    if int(num_images) < 1:
        raise ValueError(f"Expected `num_images` >= 1. Received: num_images={num_images}")
    low, high = scale_range
    if not 0 < low <= high:
        raise ValueError(
            f"Expected 0 < scale_range[0] <= scale_range[1]. Received: scale_range={scale_range}"
        )
    if not stroke_widths or min(stroke_widths) < 0:
        raise ValueError(
            "Expected a non-empty tuple of non-negative `stroke_widths`. "
            f"Received: stroke_widths={stroke_widths}"
        )
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(int(num_images)) % 10)
    glyphs = _templates(tuple(stroke_widths))
    out = np.zeros((len(labels), DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    c = _TEMPLATE / 2
    for i, digit in enumerate(labels):
        width = stroke_widths[rng.integers(len(stroke_widths))]
        angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
        shear = rng.uniform(-max_shear, max_shear)
        scale = rng.uniform(low, high)
        shift = rng.uniform(-max_shift, max_shift, 2) * _TEMPLATE / DIGIT_SIZE
        # output -> input mapping: inverse of (rotate . shear . scale), about the centre
        forward = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        forward = forward @ np.array([[1.0, shear], [0.0, 1.0]]) * scale
        inverse = np.linalg.inv(forward)
        offset = np.array([c, c]) - inverse @ (np.array([c, c]) + shift)
        coefficients = (*inverse[0], offset[0], *inverse[1], offset[1])
        img = glyphs[int(digit), width].transform(
            (_TEMPLATE, _TEMPLATE), Image.AFFINE, coefficients, resample=Image.BILINEAR
        )
        out[i] = np.asarray(img.resize((DIGIT_SIZE, DIGIT_SIZE), Image.BILINEAR))
    noise = rng.normal(0, 6, out.shape)
    out = np.clip(out + noise * (out > 0), 0, 255).astype(np.uint8)
    return out, labels.astype(np.int64)
