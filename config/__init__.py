"""Embedded default configuration (package data: mukaika.toml)."""
