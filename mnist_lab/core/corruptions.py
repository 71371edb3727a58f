"""The 15 corruptions of MNIST-C (Mu and Gilmer, 2019), one pure function each, at the severity
the published dataset uses, and the transforms the robustness sweeps draw.

Regenerated here from the paper's published definitions, not the published images (the official
MNIST-C files cannot be fetched from this environment), so numbers are comparable in kind, not
digit for digit. Every function takes one 28x28 float image in [0, 1] and a NumPy Generator and
returns a 28x28 float image in [0, 1]; the suite (mnist_lab.core.robustness) seeds the Generator per
(set, image), so one image's corruption never depends on another's.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import color, feature, filters, transform, util

SIZE = 28
CENTRE = (SIZE - 1) / 2  # 13.5: warps keep the image centre fixed

# --- severity constants (MNIST-C's choices for its published set)
SHOT_PHOTONS = 3  # Poisson with 3 photons per unit of intensity
IMPULSE_AMOUNT = 0.17  # fraction of pixels set to 0 or 1
GLASS_SIGMA, GLASS_MAX_DELTA, GLASS_ITERATIONS = 0.7, 1, 2
MOTION_RADIUS, MOTION_SIGMA, MOTION_MAX_ANGLE = 10, 3.0, 45.0  # angle uniform in +-45 degrees
SHEAR = 0.4  # radians, sign drawn per image
SCALE = 0.7  # the digit shrinks to 70% about the centre
ROTATE = 0.4  # radians (22.9 degrees), sign drawn per image
BRIGHTNESS = 0.5  # added to the HSV value channel
TRANSLATE = 3  # pixels in x and in y, signs drawn per image
STRIPE_COLUMNS = (slice(0, 7), slice(21, 28))  # inverted
FOG_AMPLITUDE, FOG_WIBBLE_DECAY, FOG_MAPSIZE = 3.0, 1.4, 256
# Spatter (MNIST-C's severity 4, "mud"): liquid layer N(0.65, 0.3), blurred sigma 1, threshold 0.65,
# its mask blurred sigma 1.5 and kept above 0.8, painted in grey 63/255.
SPATTER_MEAN, SPATTER_STD, SPATTER_SIGMA, SPATTER_THRESHOLD = 0.65, 0.3, 1.0, 0.65
SPATTER_MASK_SIGMA, SPATTER_MASK_KEEP, SPATTER_GREY = 1.5, 0.8, 63 / 255
LINE_HALF_WIDTH = 2.3  # a drawn line fades as log(1 - d / 2.3) + 1 with distance d from it
ZIGZAG_LENGTH, ZIGZAG_WIDTH = 2.0, 2.0


# --- helpers


def _warp_about_centre(image: np.ndarray, **affine) -> np.ndarray:
    """skimage's warp with `affine` as the inverse map, translated so the centre stays put."""
    matrix = transform.AffineTransform(**affine).params
    offset = CENTRE - matrix[:2, :2] @ np.array([CENTRE, CENTRE])
    return transform.warp(image, inverse_map=transform.AffineTransform(matrix=_with_translation(matrix, offset)))


def _with_translation(matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    out = matrix.copy()
    out[:2, 2] = offset
    return out


def _line(c0: float, r0: float, c1: float, r1: float) -> np.ndarray:
    """A soft line from (column c0, row r0) to (c1, r1), as MNIST-C draws it: intensity by the
    vertical distance to the line's equation, zero outside the columns it spans."""
    if c1 == c0:
        return np.zeros((SIZE, SIZE))
    rows, columns = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    slope = (r1 - r0) / (c1 - c0)
    distance = np.clip(np.abs(rows - (slope * (columns - c0) + r0)), 0, LINE_HALF_WIDTH - 1e-10)
    line = np.clip(np.log(1 - distance / LINE_HALF_WIDTH) + 1, 0, 1)
    line[:, : int(np.floor(c0))] = 0
    line[:, int(np.ceil(c1)) :] = 0
    return line


def _plasma(rng: np.random.Generator, size: int = FOG_MAPSIZE, decay: float = FOG_WIBBLE_DECAY) -> np.ndarray:
    """A diamond-square plasma fractal on a torus, rescaled to [0, 1] (the fog's texture).

    Each level sets the centres of squares, then the midpoints of their edges, to the mean of
    their four neighbours plus noise whose scale shrinks by `decay` per level; the noise is
    wibble * U(-wibble, wibble) as in the reference implementation MNIST-C uses.
    """
    grid = np.zeros((size, size))
    step, wibble = size, 100.0

    def noisy_mean(total):
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0:size:step, 0:size:step]
        squares = corners + np.roll(corners, -1, axis=0)
        squares = squares + np.roll(squares, -1, axis=1)
        grid[half:size:step, half:size:step] = noisy_mean(squares)
        centres = grid[half:size:step, half:size:step]
        grid[0:size:step, half:size:step] = noisy_mean(
            centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        )
        grid[half:size:step, 0:size:step] = noisy_mean(
            centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        )
        step, wibble = half, wibble / decay
    grid -= grid.min()
    return grid / grid.max()


def _sign(rng: np.random.Generator) -> int:
    return int(rng.choice((-1, 1)))


# --- the 15 corruptions


def shot_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rng.poisson(image * SHOT_PHOTONS) / SHOT_PHOTONS, 0, 1)


def impulse_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(util.random_noise(image, mode="s&p", amount=IMPULSE_AMOUNT, rng=rng), 0, 1)


def glass_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, swap pixels with near neighbours, blur again. Offsets are drawn in [-1, 0] as the
    published code's randint(-1, 1) draws them (its upper bound is exclusive)."""
    d = GLASS_MAX_DELTA
    pixels = (filters.gaussian(image, sigma=GLASS_SIGMA) * 255).astype(np.uint8)
    positions = [(h, w) for h in range(SIZE - d, d, -1) for w in range(SIZE - d, d, -1)]  # in the published order
    for _ in range(GLASS_ITERATIONS):
        swap = rng.random(len(positions)) < 0.5  # drawn at once: the swaps themselves must run in order
        offsets = rng.integers(-d, d, size=(len(positions), 2))
        for (h, w), (dy, dx) in zip(np.array(positions)[swap], offsets[swap], strict=True):
            pixels[h, w], pixels[h + dy, w + dx] = pixels[h + dy, w + dx], pixels[h, w]
    return np.clip(filters.gaussian(pixels / 255.0, sigma=GLASS_SIGMA), 0, 1)


def motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A line-kernel blur in a random direction (MNIST-C calls ImageMagick's -motion-blur).

    Like ImageMagick's, the kernel is one-sided: the image is averaged with copies of itself
    shifted up to MOTION_RADIUS pixels along the angle, weighted by a Gaussian of the distance
    (sigma MOTION_SIGMA). Unlike it, the shifts are bilinear samples on the pixel grid and the
    border is zero, so edge pixels differ slightly from the published images.
    """
    angle = np.deg2rad(rng.uniform(-MOTION_MAX_ANGLE, MOTION_MAX_ANGLE))
    kernel = np.zeros((2 * MOTION_RADIUS + 1, 2 * MOTION_RADIUS + 1))
    for distance in range(MOTION_RADIUS + 1):
        row, column = MOTION_RADIUS - distance * np.sin(angle), MOTION_RADIUS + distance * np.cos(angle)
        weight = np.exp(-(distance**2) / (2 * MOTION_SIGMA**2))
        r0, c0 = int(np.floor(row)), int(np.floor(column))
        fr, fc = row - r0, column - c0
        for dr, dc, share in (
            (0, 0, (1 - fr) * (1 - fc)),
            (1, 0, fr * (1 - fc)),
            (0, 1, (1 - fr) * fc),
            (1, 1, fr * fc),
        ):
            if r0 + dr < kernel.shape[0] and c0 + dc < kernel.shape[1]:
                kernel[r0 + dr, c0 + dc] += weight * share
    return np.clip(ndimage.correlate(image, kernel / kernel.sum(), mode="constant"), 0, 1)


def shear(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(_warp_about_centre(image, shear=SHEAR * _sign(rng)), 0, 1)


def scale(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(_warp_about_centre(image, scale=(1 / SCALE, 1 / SCALE)), 0, 1)  # inverse map: 1/0.7


def rotate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(_warp_about_centre(image, rotation=ROTATE * _sign(rng)), 0, 1)


def brightness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = color.rgb2hsv(color.gray2rgb(image))
    hsv[..., 2] = np.clip(hsv[..., 2] + BRIGHTNESS, 0, 1)
    return np.clip(color.rgb2gray(color.hsv2rgb(hsv)), 0, 1)


def translate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shift = (TRANSLATE * _sign(rng), TRANSLATE * _sign(rng))
    return np.clip(transform.warp(image, inverse_map=transform.AffineTransform(translation=shift)), 0, 1)


def stripe(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = image.copy()
    for columns in STRIPE_COLUMNS:
        out[:, columns] = 1 - out[:, columns]
    return out


def fog(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    peak = image.max()
    fogged = image + FOG_AMPLITUDE * _plasma(rng)[:SIZE, :SIZE]
    return np.clip(fogged * peak / (peak + FOG_AMPLITUDE), 0, 1)


def spatter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    liquid = filters.gaussian(rng.normal(SPATTER_MEAN, SPATTER_STD, image.shape), sigma=SPATTER_SIGMA)
    mask = filters.gaussian((liquid > SPATTER_THRESHOLD).astype(float), sigma=SPATTER_MASK_SIGMA)
    mask[mask < SPATTER_MASK_KEEP] = 0
    return np.clip(image * (1 - mask) + SPATTER_GREY * mask, 0, 1)


def dotted_line(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r0, r1 = rng.integers(0, SIZE - 1, size=2)
    line = _line(0, r0, SIZE - 1, r1)
    for start in range(0, SIZE, 4):  # every other 2-pixel run of columns left out
        line[:, start : start + 2] = 0
    return np.clip(image + line, 0, 1)


def zigzag(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A zigzag of 2-pixel teeth from column 2 to 25, tilted from a random row by up to 5 rows."""
    a, b, c0, c1 = ZIGZAG_LENGTH, ZIGZAG_WIDTH, 2, 25
    r0 = int(rng.integers(0, SIZE - 1))
    r1 = r0 + int(rng.integers(-5, 5))
    theta = np.arctan((r1 - r0) / (c1 - c0))
    length = (c1 - c0) / np.cos(theta)
    points = [(0.0, 0.0)] + [((2 * i + 1) * a, (-1) ** i * b) for i in range(int((length - a) // (2 * a)) + 1)]
    last_full = 2 * a * (length // (2 * a))
    if length != last_full:  # the published construction's closing point
        points.append((length, points[-1][1] / (2 * (length - last_full))))
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    columns, rows = rotation @ np.array(points).T
    out = image.copy()
    for i in range(1, len(points)):
        out = np.clip(out + _line(columns[i - 1] + c0, rows[i - 1] + r0, columns[i] + c0, rows[i] + r0), 0, 1)
    return out


def canny_edges(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return feature.canny(image).astype(float)


CORRUPTIONS = {
    function.__name__: function
    for function in (
        shot_noise,
        impulse_noise,
        glass_blur,
        motion_blur,
        shear,
        scale,
        rotate,
        brightness,
        translate,
        stripe,
        fog,
        spatter,
        dotted_line,
        zigzag,
        canny_edges,
    )
}


# --- the sweeps: the seed's own augmentation transforms, past its ranges


def rotated(image: np.ndarray, rng: np.random.Generator, degrees: float) -> np.ndarray:
    return np.clip(_warp_about_centre(image, rotation=np.deg2rad(degrees) * _sign(rng)), 0, 1)


def shifted(image: np.ndarray, rng: np.random.Generator, pixels: float) -> np.ndarray:
    """`pixels` in x and in y, signs drawn per image (MNIST-C's translate is pixels = 3)."""
    shift = (pixels * _sign(rng), pixels * _sign(rng))
    return np.clip(transform.warp(image, inverse_map=transform.AffineTransform(translation=shift)), 0, 1)


def zoomed(image: np.ndarray, rng: np.random.Generator, factor: float) -> np.ndarray:
    """The digit scaled by `factor` about the centre (below 1 it shrinks, as MNIST-C's scale)."""
    return np.clip(_warp_about_centre(image, scale=(1 / factor, 1 / factor)), 0, 1)
