"""Double-double arithmetic on NumPy arrays: each number an unevaluated sum hi + lo of two doubles,
about 106 bits, built from error-free transformations (Knuth's TwoSum, Dekker's split and product).

The algorithms are the classic ones (Dekker 1971; Hida, Li and Bailey's QD library, 2001): a sum
or product is exact as hi + lo before it is renormalised, so one operation errs by about 2⁻¹⁰⁴ of
its result. Nothing here needs a fused multiply-add, and every operation is vectorised.

>>> third = DD.of(1.0) / 3.0
>>> float(third.hi), float(third.lo)  # 1/3 to 32 digits: 0.333… + 1.85e-17
(0.3333333333333333, 1.850371707708594e-17)
>>> 0.1 + 0.2 - 0.3, float((DD.of(0.1) + 0.2 - 0.3).hi)  # float64 errs by 100 %; DD is exact here
(5.551115123125783e-17, 2.7755575615628914e-17)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
_SPLITTER = 2.0**27 + 1.0  # Dekker's split: hi keeps the top 26 bits of a double, lo the rest
_SPLIT_LIMIT = 2.0**996  # above this, _SPLITTER · a overflows: such values are split scaled down
_SPLIT_SCALE = 2.0**28


def two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """s, e with s = fl(a + b) and s + e = a + b exactly (Knuth)."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


def _fast_two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """two_sum when |a| ≥ |b| (or a is 0): three operations instead of six."""
    s = a + b
    return s, b - (s - a)


def split(a: Array) -> tuple[Array, Array]:
    """hi, lo with hi + lo = a exactly, each of at most 26 significant bits (Dekker)."""
    big = np.abs(a) > _SPLIT_LIMIT
    if big.any():
        scaled = np.where(big, a / _SPLIT_SCALE, a)
        hi, lo = split(scaled)
        return np.where(big, hi * _SPLIT_SCALE, hi), np.where(big, lo * _SPLIT_SCALE, lo)
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def two_product(a: Array, b: Array) -> tuple[Array, Array]:
    """p, e with p = fl(a · b) and p + e = a · b exactly (Dekker), unless it underflows."""
    p = a * b
    a_hi, a_lo = split(a)
    b_hi, b_lo = split(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


@dataclass(frozen=True)
class DD:
    """An array of double-double numbers: the value is hi + lo, with |lo| ≤ half an ulp of hi.

    hi alone is the value rounded to the nearest double.
    """

    hi: Array
    lo: Array

    @classmethod
    def of(cls, value: DD | Array | float) -> DD:
        """A double (or an array of them) as a double-double, exactly."""
        if isinstance(value, DD):
            return value
        hi = np.asarray(value, dtype=np.float64)
        return cls(hi, np.zeros_like(hi))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.hi.shape)

    def __add__(self, other: DD | Array | float) -> DD:
        if not isinstance(other, DD):  # a double: its sum with hi is exact as s + e
            s, e = two_sum(self.hi, np.asarray(other, dtype=np.float64))
            return DD(*_fast_two_sum(s, e + self.lo))
        # QD's "sloppy" addition: errs by about 2⁻¹⁰⁵ of the larger operand rather than of the sum,
        # which is still 2⁻⁵² finer than what float64 can err on the same operands
        s, e = two_sum(self.hi, other.hi)
        return DD(*_fast_two_sum(s, e + (self.lo + other.lo)))

    def __radd__(self, other: Array | float) -> DD:
        return self + other

    def __neg__(self) -> DD:
        return DD(-self.hi, -self.lo)

    def __sub__(self, other: DD | Array | float) -> DD:
        return self + (-other if isinstance(other, DD) else -np.asarray(other, dtype=np.float64))

    def __rsub__(self, other: Array | float) -> DD:
        return -self + other

    def __mul__(self, other: DD | Array | float) -> DD:
        if not isinstance(other, DD):
            y = np.asarray(other, dtype=np.float64)
            p, e = two_product(self.hi, y)
            return DD(*_fast_two_sum(p, e + self.lo * y))
        p, e = two_product(self.hi, other.hi)
        return DD(*_fast_two_sum(p, e + (self.hi * other.lo + self.lo * other.hi)))

    def __rmul__(self, other: Array | float) -> DD:
        return self * other

    def __truediv__(self, other: DD | Array | float) -> DD:
        if not isinstance(other, DD):  # q = hi/y, then the remainder self − q·y, exact, divided again
            y = np.asarray(other, dtype=np.float64)
            q = self.hi / y
            p, e = two_product(q, y)
            s, f = two_sum(self.hi, -p)
            return DD(*_fast_two_sum(q, (s + (f + self.lo - e)) / y))
        # long division: each quotient digit from the leading doubles, the remainder in
        # double-double (QD's accurate division)
        q1 = self.hi / other.hi
        remainder = self - other * q1
        q2 = remainder.hi / other.hi
        remainder = remainder - other * q2
        return DD(*_fast_two_sum(q1, q2)) + remainder.hi / other.hi

    def __rtruediv__(self, other: Array | float) -> DD:
        return DD.of(other) / self

    def sqrt(self) -> DD:
        """√self by one Newton step from the double square root: r + (self − r²)/(2r) (Karp and
        Markstein); 0 where self is 0."""
        root = np.sqrt(self.hi)
        safe = np.where(root > 0, root, 1.0)
        residual = self - DD(*two_product(root, root))
        return DD(*_fast_two_sum(root, np.where(root > 0, residual.hi / (2.0 * safe), 0.0)))

    def column_sum(self) -> DD:
        """The sum down each column, as a 1×D row: pairs of rows added in a tree, so an N-row sum
        costs log₂N vectorised additions."""
        total = self
        while total.shape[0] > 1:
            rows = total.shape[0]
            half = rows // 2
            paired = DD(total.hi[:half], total.lo[:half]) + DD(total.hi[half : 2 * half], total.lo[half : 2 * half])
            if rows % 2:
                paired = DD(np.vstack([paired.hi, total.hi[-1:]]), np.vstack([paired.lo, total.lo[-1:]]))
            total = paired
        return total
