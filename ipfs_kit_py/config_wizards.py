"""Seed import path: ``from ipfs_kit_py.config_wizards import WizardManager``.

The implementation lives in ``ipfs_kit_py.dashboard.wizards`` (fields and
steps in ``ipfs_kit_py.dashboard.wizard_fields``).
"""

from .dashboard.wizard_fields import Field, Step, StepInvalid
from .dashboard.wizards import (
    WIZARD_IDS,
    BackendSetupWizard,
    MonitoringSetupWizard,
    VFSConfigurationWizard,
    Wizard,
    WizardManager,
)

__all__ = [
    "WIZARD_IDS", "BackendSetupWizard", "Field", "MonitoringSetupWizard", "Step", "StepInvalid",
    "VFSConfigurationWizard", "Wizard", "WizardManager",
]
