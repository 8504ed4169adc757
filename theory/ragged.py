"""Sparse matrices built row by row in topological order (see :class:`RaggedRows`)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix

__all__ = ["RaggedRows"]


class RaggedRows:
    """Rows of a sparse matrix set in any order, each once, with a vectorised gather of
    many rows (amortised doubling storage).

    The propagation algorithms over the condensation (level by level) fill rows as they
    become final and read the rows of lower levels; a CSR matrix cannot grow by rows
    without copying, this store can.

    Parameters
    ----------
    num_rows : int
        Number of rows of the matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse import csr_matrix
    >>> from graphcollapse.theory.ragged import RaggedRows
    >>> store = RaggedRows(3)
    >>> store.set_rows(np.array([2, 0]), csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]])))
    >>> store.to_csr(2).toarray()
    array([[0., 2.],
           [0., 0.],
           [1., 0.]])
    >>> store.gather(np.array([0, 2]), np.array([1.0, 3.0]), np.array([0, 0]), (1, 2)).toarray()
    array([[3., 2.]])
    """

    def __init__(self, num_rows: int) -> None:
        self.start = np.zeros(num_rows, dtype=np.int64)
        self.length = np.zeros(num_rows, dtype=np.int64)
        self.indices = np.empty(1024, dtype=np.int32)
        self.data = np.empty(1024, dtype=np.float64)
        self.size = 0

    def set_rows(self, rows: np.ndarray, block: csr_matrix) -> None:
        """Store ``block``'s rows (CSR, column indices global) as the given rows."""
        nnz = block.nnz
        need = self.size + nnz
        if need > len(self.indices):
            cap = max(need, 2 * len(self.indices))
            self.indices = np.resize(self.indices, cap)
            self.data = np.resize(self.data, cap)
        self.indices[self.size:need] = block.indices
        self.data[self.size:need] = block.data
        self.start[rows] = self.size + block.indptr[:-1]
        self.length[rows] = np.diff(block.indptr)
        self.size = need

    def gather(self, rows: np.ndarray, weights: np.ndarray, out_rows: np.ndarray, shape: tuple[int, int]) -> csr_matrix:
        r"""Sparse matrix whose row ``out_rows[e]`` accumulates ``weights[e]`` times stored
        row ``rows[e]`` (a sparse product :math:`W F` restricted to given edges)."""
        lengths = self.length[rows]
        total = int(lengths.sum())
        if total == 0:
            return csr_matrix(shape)
        offsets = np.repeat(self.start[rows] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        pos = offsets + np.arange(total)
        vals = np.repeat(weights, lengths) * self.data[pos]
        out = coo_matrix((vals, (np.repeat(out_rows, lengths), self.indices[pos])), shape=shape).tocsr()
        out.sum_duplicates()
        return out

    def to_csr(self, num_cols: int) -> csr_matrix:
        """All rows as one CSR matrix."""
        K = len(self.start)
        lengths = self.length
        total = int(lengths.sum())
        offsets = np.repeat(self.start - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        pos = offsets + np.arange(total)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        return csr_matrix((self.data[pos], self.indices[pos], indptr), shape=(K, num_cols))
