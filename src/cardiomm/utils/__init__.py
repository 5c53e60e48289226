"""Small shared utilities: atomic writes, seeding, shared-data lookup."""

from cardiomm.utils.atomic import atomic_path

__all__ = ["atomic_path"]
