"""Shared plotting conventions (colours) for every figure ctcscope draws."""
from .palette import categorical, copy_number_colour, ploidy_colour

__all__ = ["categorical", "copy_number_colour", "ploidy_colour"]
