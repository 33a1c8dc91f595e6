"""A local stand-in for the Azure Functions host that runs the app through the real Python
runtime library (`azure-functions-runtime`), as Azure does from Python 3.13 on."""

from .bindings import BindingError, resolve
from .runner import FunctionHost
from .settings import load_local_settings
from .worker import AppLoadError, InvocationFailed, RuntimeWorker

__all__ = [
    "AppLoadError",
    "BindingError",
    "FunctionHost",
    "InvocationFailed",
    "RuntimeWorker",
    "load_local_settings",
    "resolve",
]
