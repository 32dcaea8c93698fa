"""Seed import path: ``from ipfs_kit_py.audit_analytics import AuditAnalytics``."""

from .analytics.engine import AuditAnalytics
from .analytics.patterns import PATTERN_TYPES
from .analytics.results import Anomaly, ComplianceScore, Pattern

__all__ = ["PATTERN_TYPES", "Anomaly", "AuditAnalytics", "ComplianceScore", "Pattern"]
