"""mukaika sanitisers: one module per format family, usable without the daemon."""
