"""Exports that load their module on first use (PEP 562), shared by the subpackages."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, namespace: dict[str, Any], exports: dict[str, tuple[str, ...]]
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for a package whose names in ``exports``
    (submodule -> names) are imported from the submodule when first read.

    Examples
    --------
    >>> ns = {}
    >>> all_, getattr_, dir_ = lazy_exports("json", ns, {"decoder": ("JSONDecoder",)})
    >>> all_, getattr_("JSONDecoder").__name__, "JSONDecoder" in ns
    (['JSONDecoder'], 'JSONDecoder', True)
    """
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(module_of))

    return list(module_of), __getattr__, __dir__
