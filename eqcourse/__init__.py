"""eqcourse: regular group-equivariant CNNs, taught through one principle: let the kernel rotate."""

__version__ = "0.1.0"
