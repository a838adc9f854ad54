"""Image helpers of the captioning assignment: fetch an image by URL, and the VGG/ImageNet
normalisation used to compute its features."""
import io
import urllib.error
import urllib.request

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess_image(img):
    """uint8 image (H, W, 3) to float32 (H, W, 3): scaled to [0, 1], ImageNet mean subtracted, divided by std."""
    return (img.astype(np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD


def deprocess_image(img, rescale=False):
    """Inverse of preprocess_image: float (H, W, 3) to uint8; rescale stretches the values to [0, 255]."""
    img = img * IMAGENET_STD + IMAGENET_MEAN
    if rescale:
        low, high = img.min(), img.max()
        img = (img - low) / (high - low) if high > low else np.zeros_like(img)
    return np.clip(np.round(255 * img), 0, 255).astype(np.uint8)


def image_from_url(url, timeout=10):
    """
    Read an image from a URL as a uint8 array (H, W, 3); None (with a printed reason) when it
    cannot be fetched or decoded, e.g. offline, or for the demo data's demo:// URLs.
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))
    except (urllib.error.URLError, ValueError, OSError, UnidentifiedImageError) as error:
        print(f"could not read the image at {url}: {error}")
        return None
