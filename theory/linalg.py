"""Exact linear algebra helpers on sympy's DomainMatrix (fast rationals and rational
functions), shared by the theory modules."""

from __future__ import annotations

from typing import Any, Sequence

import sympy as sp
from sympy.polys.matrices import DomainMatrix

__all__ = ["domain_matrix", "to_sympy", "exact_det", "common_field", "solve_linear"]


def common_field(exprs: Sequence[Any]):
    """The smallest sympy field domain holding every expression (QQ, QQ(x, y), EX...).

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.linalg import common_field
    >>> common_field([sp.Rational(1, 2), 3])
    QQ
    """
    from sympy.polys.constructor import construct_domain

    domain, _ = construct_domain([sp.sympify(e) for e in exprs], field=True)
    return domain.get_field() if not domain.is_Field else domain


def domain_matrix(M: sp.Matrix, domain: Any = None) -> DomainMatrix:
    """A dense DomainMatrix over a field from a sympy Matrix.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.linalg import domain_matrix
    >>> domain_matrix(sp.Matrix([[1, 2], [3, 4]])).domain
    QQ
    """
    if domain is None:
        domain = common_field(list(M) or [0])
    rows = [[domain.from_sympy(sp.sympify(x)) for x in M.row(i)] for i in range(M.rows)]
    return DomainMatrix(rows, M.shape, domain)


def to_sympy(dm: DomainMatrix) -> sp.Matrix:
    """Convert a DomainMatrix back to a sympy Matrix.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.linalg import domain_matrix, to_sympy
    >>> to_sympy(domain_matrix(sp.Matrix([[sp.Rational(1, 3)]])))
    Matrix([[1/3]])
    """
    return dm.to_Matrix()


def exact_det(M: sp.Matrix) -> sp.Expr:
    """Exact determinant via fraction-free elimination in the matrix's field.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.linalg import exact_det
    >>> a = sp.Symbol("a")
    >>> exact_det(sp.Matrix([[1, a], [a, 1]]))
    1 - a**2
    """
    if M.rows == 0:
        return sp.Integer(1)
    dm = domain_matrix(M)
    return dm.domain.to_sympy(dm.det())


def solve_linear(A: DomainMatrix, b: DomainMatrix) -> DomainMatrix:
    """Solve ``A x = b`` exactly (A square and nonsingular), sparse-aware.

    Examples
    --------
    >>> import sympy as sp
    >>> from graphcollapse.theory.linalg import domain_matrix, solve_linear, to_sympy
    >>> A = domain_matrix(sp.Matrix([[2, 0], [0, 4]]))
    >>> to_sympy(solve_linear(A, domain_matrix(sp.Matrix([1, 1]), A.domain)))
    Matrix([
    [1/2],
    [1/4]])
    """
    return A.lu_solve(b)
