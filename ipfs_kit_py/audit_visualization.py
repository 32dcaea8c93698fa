"""Seed import path: ``from ipfs_kit_py.audit_visualization import AuditVisualizer``."""

from .analytics.visualization import AuditVisualizer

__all__ = ["AuditVisualizer"]
