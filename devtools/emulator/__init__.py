"""A local emulator of the Azure OpenAI Files and Global Batch APIs, quirks included."""

from .auth import mint_token
from .config import EmulatorConfig, Timings
from .emulator import Emulator
from .faults import KINDS as FAULT_KINDS
from .rules import RuleError

__all__ = ["FAULT_KINDS", "Emulator", "EmulatorConfig", "RuleError", "Timings", "mint_token"]
