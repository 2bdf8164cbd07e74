"""Image sanitisers: JPEG, PNG, GIF, TIFF, BMP and WebP rebuilt from their pixels."""

from sanitizers.images.rebuild import ImageRebuild

__all__ = ["ImageRebuild"]
