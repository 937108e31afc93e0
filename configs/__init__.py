"""Settings and YAML defaults. The only package that reads the environment."""

from configs.settings import Settings

__all__ = ["Settings"]
