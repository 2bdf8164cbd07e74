"""mukaika gateway: configuration, CLI and the daemon around the sanitisers."""

__version__ = "0.1.0"
