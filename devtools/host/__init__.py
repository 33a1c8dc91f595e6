"""A local stand-in for the Azure Functions host (Core Tools cannot be installed offline)."""

from .registry import registry, resolve
from .runner import FunctionHost
from .settings import load_local_settings

__all__ = ["FunctionHost", "load_local_settings", "registry", "resolve"]
