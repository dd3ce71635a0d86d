"""Grading helpers for the exercises: make a forbidden shortcut unusable while a student's code runs.

An exercise that asks a student to write something the package already has (a kernel bank, the
action on a group feature map, a Conv3d layer) must not be solvable by calling that helper. Its test
cell wraps the student's function in :func:`forbidden`::

    with forbidden((C4, "orbit"), (torch.nn.Conv3d, "forward"), task="the lifting layer",
                   functions=[lift_by_rotating_kernels]):
        got = lift_by_rotating_kernels(x, layer)

While the block runs, each named attribute is replaced by a stand-in that raises
:class:`ForbiddenError` with a message saying why, and so is every global variable of the given
functions that is bound to the same object (``from eqcourse.nn import group_bank`` before the call
does not dodge it). Everything is restored when the block ends, also after an error.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

_MISSING = object()


class ForbiddenError(RuntimeError):
    """Raised when a student's function calls a helper the exercise asks them to write themselves."""


def _label(owner: object, attr: str) -> str:
    if isinstance(owner, types.ModuleType):
        name = owner.__name__
    elif isinstance(owner, type):
        name = owner.__qualname__
    else:
        name = getattr(owner, "name", None)
        name = name if isinstance(name, str) else type(owner).__name__
    return f"{name}.{attr}"


def _same(a: object, b: object) -> bool:
    """Identity, or equality for bound methods (``C4.orbit`` makes a new bound method each time)."""
    if a is b:
        return True
    if isinstance(a, types.MethodType) and isinstance(b, types.MethodType):
        return a.__func__ is b.__func__ and a.__self__ is b.__self__
    return False


def _stand_in(label: str, task: str) -> Callable:
    def blocked(*args, **kwargs):
        raise ForbiddenError(
            f"this exercise asks you to write {task} yourself; do not call {label} "
            "(it is disabled while your function runs)"
        )

    blocked.__name__ = f"forbidden_{label.replace('.', '_')}"
    return blocked


@contextmanager
def forbidden(*targets: tuple, task: str, functions: Iterable[Callable] = ()) -> Iterator[None]:
    """Make each ``(owner, "attribute")`` (or ``(owner, "attribute", "label")``) raise while the block runs.

    ``owner`` is a module (``eqcourse.nn``), a class (``torch.nn.Conv3d``: then its instances'
    method is blocked too) or an instance (``C4``). ``task`` says what the student must write (it
    goes into the message). ``functions`` are the student's functions: their module globals bound
    to a forbidden object are blocked as well.
    """
    if not isinstance(task, str) or not task:
        raise ValueError(f"task must be a non-empty description of what the student writes; got {task!r}")
    patches: list[tuple[object, str, object]] = []  # (namespace, name, what was there)
    originals: list[tuple[object, Callable]] = []  # (original object, stand-in)
    try:
        for target in targets:
            if not isinstance(target, tuple) or len(target) not in (2, 3) or not isinstance(target[1], str):
                raise ValueError(
                    f"each target must be (owner, 'attribute') or (owner, 'attribute', 'label'); got {target!r}"
                )
            owner, attr = target[0], target[1]
            if not hasattr(owner, attr):
                raise ValueError(f"{owner!r} has no attribute {attr!r} to forbid")
            label = target[2] if len(target) == 3 else _label(owner, attr)
            original = getattr(owner, attr)
            stand_in = _stand_in(label, task)
            if isinstance(owner, (types.ModuleType, type)):
                saved = owner.__dict__.get(attr, _MISSING)
                setattr(owner, attr, stand_in if not isinstance(owner, type) else _as_method(stand_in))
                patches.append((owner, attr, saved))
            else:  # an instance: shadow the attribute in its own __dict__
                saved = vars(owner).get(attr, _MISSING)
                setattr(owner, attr, stand_in)
                patches.append((owner, attr, saved))
            originals.append((original, stand_in))
        for function in functions:
            namespace = getattr(function, "__globals__", None)
            if namespace is None:
                raise ValueError(f"functions must be Python functions; got {function!r}")
            for name, value in list(namespace.items()):
                for original, stand_in in originals:
                    if _same(value, original):
                        patches.append((namespace, name, value))
                        namespace[name] = stand_in
                        break
        yield
    finally:
        for where, name, saved in reversed(patches):
            if isinstance(where, dict):
                where[name] = saved
            elif saved is _MISSING:
                delattr(where, name)
            else:
                setattr(where, name, saved)


def _as_method(stand_in: Callable) -> Callable:
    """A stand-in placed on a class is looked up through instances: accept (and ignore) ``self``."""

    def method(self, *args, **kwargs):
        return stand_in(*args, **kwargs)

    method.__name__ = stand_in.__name__
    return method
