"""The default loss model of direct loss estimation: an additive model of the loss,
fitted by penalised least squares in closed form.

Every column (the features and the model's prediction) gets a piecewise-linear function
on knots at its reference quantiles (a "hat" basis: each value weighs its two
neighbouring knots, constant beyond the outer knots; a two-valued column, e.g. 0/1, a
level shift), smoothed by a difference penalty (Eilers and Marx 1996). Because the fit is
linear in the loss, everything DLE needs is a small ``(p, p)`` system:

* the cross-fitted fold models are downdates of one Gram matrix (``G - G_f``), so the
  penalty is chosen by cross-validation and the jackknife over folds costs no refit;
* a chunk's estimated mean loss is ``mean_rows(phi(x))' beta``, so a chunk costs one
  pass over its rows and each fold model one dot product.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Knots per column at evenly spaced reference quantiles (fewer for discrete columns),
#: plus knots at the tail quantiles, where a long-tailed column's loss changes most.
N_KNOTS = 30
TAIL_LEVELS = (0.001, 0.003, 0.01, 0.03)
#: Penalties tried by cross-validation, relative to the mean diagonal of the Gram matrix.
PENALTY_GRID = 10.0 ** np.arange(-4.0, 2.0)
#: Most cells of a spline column's lookup table of left knots (see :func:`_lookup`).
_MAX_CELLS = 1 << 16
#: Ridge added to the penalty so that every coefficient is identified (the hat functions
#: of a column sum to one, like the intercept).
_RIDGE = 1e-4


@dataclasses.dataclass(frozen=True)
class Positions:
    """Where rows fall on an :class:`AdditiveBasis`: ``share`` (``(m, L)``), each
    two-valued column's position between its two values (0 at the lower, 1 at the upper),
    and ``splines``, each other column's left knot ``j`` and weight ``t`` (the row weighs
    ``1 - t`` on knot ``j`` and ``t`` on knot ``j + 1``)."""

    share: np.ndarray
    splines: tuple[tuple[np.ndarray, np.ndarray], ...]


@dataclasses.dataclass(frozen=True)
class AdditiveBasis:
    """The basis of the additive model: an intercept (index 0), one slope per two-valued
    column (indices ``1 .. L``: a 0/1 column is a level shift), then for each other
    column its hat functions, one per knot (``spline_offsets``). Columns constant on the
    reference have no basis function.
    """

    knots: tuple[np.ndarray, ...]
    lookups: tuple[np.ndarray | None, ...]

    @property
    def _linear(self) -> np.ndarray:
        return np.flatnonzero([k.shape[0] == 2 for k in self.knots])

    @property
    def _splines(self) -> np.ndarray:
        return np.flatnonzero([k.shape[0] > 2 for k in self.knots])

    @property
    def spline_offsets(self) -> np.ndarray:
        sizes = [self.knots[j].shape[0] for j in self._splines]
        return 1 + self._linear.shape[0] + np.cumsum([0, *sizes[:-1]]).astype(np.intp)

    @property
    def size(self) -> int:
        return 1 + self._linear.shape[0] + sum(self.knots[j].shape[0] for j in self._splines)

    def positions(self, X: np.ndarray) -> Positions:
        """Where each row of ``X`` falls on the basis (constant beyond the end knots)."""
        linear = self._linear
        low = np.array([self.knots[j][0] for j in linear])
        high = np.array([self.knots[j][1] for j in linear])
        share = np.clip((X[:, linear] - low) / (high - low), 0.0, 1.0)
        splines = []
        for j in self._splines:
            knots, column = self.knots[j], X[:, j]
            left = _left_knots(knots, self.lookups[j], column)
            lower = knots[left]
            splines.append((left, np.clip((column - lower) / (knots[left + 1] - lower), 0.0,
                                          1.0)))
        return Positions(share, tuple(splines))

    def take(self, positions: Positions, rows: np.ndarray) -> Positions:
        """The positions of a subset of the rows."""
        return Positions(positions.share[rows],
                         tuple((left[rows], t[rows]) for left, t in positions.splines))

    def design(self, positions: Positions) -> np.ndarray:
        """The rows' basis values, ``(m, p)``."""
        m, n_linear = positions.share.shape
        out = np.zeros((m, self.size))
        out[:, 0] = 1.0
        out[:, 1:1 + n_linear] = positions.share
        rows = np.arange(m)
        for (left, t), start in zip(positions.splines, self.spline_offsets, strict=True):
            out[rows, start + left] = 1.0 - t
            out[rows, start + left + 1] = t
        return out

    def mean(self, positions: Positions) -> np.ndarray:
        """Mean basis vector of the rows."""
        m, n_linear = positions.share.shape
        out = np.zeros(self.size)
        out[0] = 1.0
        out[1:1 + n_linear] = positions.share.mean(axis=0)
        for (left, t), start, j in zip(positions.splines, self.spline_offsets, self._splines,
                                       strict=True):
            k = self.knots[j].shape[0]
            weight_up = np.bincount(left, t, minlength=k)
            out[start:start + k] += (np.bincount(left, minlength=k) - weight_up) / m
            out[start + 1:start + k] += weight_up[:k - 1] / m
        return out

    def predict(self, positions: Positions, coef: np.ndarray) -> np.ndarray:
        """The model with coefficients ``coef`` at each row."""
        n_linear = positions.share.shape[1]
        out = positions.share @ coef[1:1 + n_linear] + coef[0]
        for (left, t), start, j in zip(positions.splines, self.spline_offsets, self._splines,
                                       strict=True):
            c = coef[start:start + self.knots[j].shape[0]]
            out += c[left] + (c[1:] - c[:-1])[left] * t
        return out

    def penalty(self) -> np.ndarray:
        """The squared slope of each two-valued column (the first difference of its two
        levels; shrinking the levels of a noisy loss towards each other predicts it
        better out of fold), the second differences of each other column's knot values
        plus a small ridge; the intercept is not penalised."""
        out = np.zeros((self.size, self.size))
        n_linear = self._linear.shape[0]
        out[1:1 + n_linear, 1:1 + n_linear] = np.eye(n_linear)
        for start, j in zip(self.spline_offsets, self._splines, strict=True):
            k = self.knots[j].shape[0]
            diff = np.diff(np.eye(k), n=2, axis=0)
            out[start:start + k, start:start + k] = diff.T @ diff + _RIDGE * np.eye(k)
        return out


def additive_basis(X: np.ndarray) -> AdditiveBasis:
    """Knots of every column: a column of at most two values has them as its knots;
    another, its values at evenly spaced and tail quantiles (ties merged)."""
    tails = np.array(TAIL_LEVELS)
    levels = np.unique(np.r_[np.linspace(0.0, 1.0, N_KNOTS), tails, 1.0 - tails])
    knots = []
    for column in X.T:
        low, high = column.min(), column.max()
        if ((column == low) | (column == high)).all():
            knots.append(np.unique([low, high]))
        else:
            knots.append(np.unique(np.quantile(column, levels, method="nearest")))
    return AdditiveBasis(tuple(knots), tuple(_lookup(k) for k in knots))


def _lookup(knots: np.ndarray) -> np.ndarray | None:
    """The left knot at the lower edge of each of ``c`` equal cells between the end knots,
    with the cells no wider than the closest two knots, so that a cell holds at most one
    knot; ``None`` when that takes more than :data:`_MAX_CELLS` cells (or for fewer than
    three knots). A table lookup is twice as fast as a binary search of every row."""
    if knots.shape[0] < 3:
        return None
    cells = int(np.ceil((knots[-1] - knots[0]) / np.diff(knots).min()))
    if cells > _MAX_CELLS:
        return None
    edges = knots[0] + np.arange(cells + 1) * ((knots[-1] - knots[0]) / cells)
    return np.minimum(np.searchsorted(knots, edges, side="right") - 1, knots.shape[0] - 2)


def _left_knots(knots: np.ndarray, lookup: np.ndarray | None, column: np.ndarray
                ) -> np.ndarray:
    """Index ``j`` of the knot at or below each value, clipped to ``0 .. K - 2``."""
    k = knots.shape[0]
    if lookup is None:
        return np.clip(np.searchsorted(knots, column, side="right") - 1, 0, k - 2)
    cells = lookup.shape[0] - 1
    cell = np.clip((column - knots[0]) * (cells / (knots[-1] - knots[0])), 0, cells)
    left = lookup[cell.astype(np.intp)]
    # A cell holds at most one knot: one step up finds it; one step down undoes a value
    # that rounding put in the next cell.
    left += (column >= knots[left + 1]) & (left < k - 2)
    left -= (column < knots[left]) & (left > 0)
    return left


@dataclasses.dataclass(frozen=True)
class AdditiveFit:
    """A fitted additive loss model: coefficients of all rows (``coef``), of each
    cross-fitting fold model (``fold_coef``, ``(F, p)``: fitted without fold ``f``), the
    fold models' out-of-fold predictions and the penalty chosen."""

    coef: np.ndarray
    fold_coef: np.ndarray
    out_of_fold: np.ndarray
    penalty: float


def fit_additive(basis: AdditiveBasis, positions: Positions,
                 loss: np.ndarray, folds: np.ndarray, n_folds: int) -> AdditiveFit:
    """Penalised least squares of ``loss`` on the basis at the rows' ``positions``, the
    penalty chosen from :data:`PENALTY_GRID` by the cross-fitted squared error over
    ``folds`` (labels ``0 .. n_folds - 1``)."""
    # Rows sorted by fold, so that each fold's Gram matrix is one dense product.
    order = np.argsort(folds, kind="stable")
    bounds = np.searchsorted(folds[order], np.arange(n_folds + 1))
    design = basis.design(basis.take(positions, order))
    loss = loss[order]
    n, p = design.shape
    parts = [slice(bounds[f], bounds[f + 1]) for f in range(n_folds)]
    grams = np.stack([design[rows].T @ design[rows] for rows in parts])
    moments = np.stack([design[rows].T @ loss[rows] for rows in parts])
    gram, moment = grams.sum(0), moments.sum(0)
    penalty = basis.penalty()
    scale = float(np.trace(gram)) / p

    def cross_fit(lam: float) -> tuple[float, float, np.ndarray, np.ndarray]:
        fold_coef = np.linalg.solve(gram - grams + lam * penalty, (moment - moments)[..., None]
                                    )[..., 0]
        oof = np.concatenate([design[rows] @ fold_coef[f] for f, rows in enumerate(parts)])
        return float(np.square(loss - oof).sum()), lam, fold_coef, oof

    _, lam, fold_coef, oof = min((cross_fit(lam) for lam in scale * PENALTY_GRID),
                                 key=lambda fit: fit[0])
    coef = np.linalg.solve(gram + lam * penalty, moment)
    out_of_fold = np.empty(n)
    out_of_fold[order] = oof
    return AdditiveFit(coef, fold_coef, out_of_fold, float(lam))
