"""Seed import path: ``from ipfs_kit_py.audit_correlation import EventCorrelator``."""

from .analytics.correlation import Correlation, EventCorrelator

__all__ = ["Correlation", "EventCorrelator"]
