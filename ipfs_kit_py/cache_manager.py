"""Seed import path: ``from ipfs_kit_py.cache_manager import CacheManager``."""

from .performance.cache import TIERS, CacheManager
from .performance.codec import SafeCodec, ValueCodec
from .performance.policies import POLICIES

__all__ = ["CacheManager", "POLICIES", "SafeCodec", "TIERS", "ValueCodec"]
