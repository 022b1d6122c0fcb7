"""Numba kernels behind the two-sample tests: merges of sorted columns and exact KS laws.

Each kernel works on already validated, sorted float64 data; the public functions in
the test modules of :mod:`shiftguard.stats` do the checking and the branching.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _merge_step(a, b, n1, n2, i, j, hi, lo):
    """One step of the merge of :func:`ks_extremes` on one column; the updated state."""
    # Branch-free step (the comparison of two random streams is unpredictable); the
    # difference is recorded only once every copy of ``v`` is consumed.
    va = a[i]
    vb = b[j]
    take_a = va <= vb
    v = va if take_a else vb
    i += take_a
    j += 1 - take_a
    next_a = a[i] if i < n1 else np.inf
    next_b = b[j] if j < n2 else np.inf
    if min(next_a, next_b) > v:
        diff = i / n1 - j / n2
        hi = max(hi, diff)
        lo = max(lo, -diff)
    return i, j, hi, lo, v


@nb.njit(cache=True, inline="always")
def _merge_rest(a, b, n1, n2, i, j, hi, lo, v):
    """The merge of one column from state ``(i, j, hi, lo, v)`` on: ``(d_plus, d_minus)``."""
    while i < n1 and j < n2:
        i, j, hi, lo, v = _merge_step(a, b, n1, n2, i, j, hi, lo)
    # One sample is exhausted: consume the other's copies of ``v``; from there the
    # difference moves monotonically back to zero, so no later point is an extreme.
    while i < n1 and a[i] <= v:
        i += 1
    while j < n2 and b[j] <= v:
        j += 1
    diff = i / n1 - j / n2
    return max(hi, diff), max(lo, -diff)


@nb.njit(cache=True, parallel=True)
def ks_extremes(
    ref: np.ndarray, ref_n: np.ndarray, cur: np.ndarray, cur_n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Largest positive and negative ECDF differences ``F_ref - F_cur`` for every column.

    ``ref`` and ``cur`` are (rows, d) arrays whose column ``j`` holds its ``ref_n[j]``
    (``cur_n[j]``) valid values sorted ascending in its first rows. One O(n + m) merge per
    column, columns in parallel. Returns ``(d_plus, d_minus)``, both >= 0; the differences
    are evaluated at every distinct pooled value, as ``scipy.stats.ks_2samp`` does, with the
    same float operations (``i / n - j / m``) so that the statistics agree bit for bit.

    Each step of a merge waits for the previous one (the next load depends on which side
    advanced), so a thread merges two columns in the same loop: their steps overlap, 1.8x
    faster than one column at a time (100,000 + 100,000 values x 50 columns: 21 instead of
    37 ms of CPU).
    """
    d = ref.shape[1]
    d_plus = np.zeros(d)
    d_minus = np.zeros(d)
    for pair in nb.prange((d + 1) // 2):
        c0 = 2 * pair
        c1 = min(c0 + 1, d - 1)  # an odd last column is merged twice, alike
        a0, b0, n10, n20 = ref[:, c0], cur[:, c0], ref_n[c0], cur_n[c0]
        a1, b1, n11, n21 = ref[:, c1], cur[:, c1], ref_n[c1], cur_n[c1]
        i0 = j0 = i1 = j1 = 0
        hi0 = lo0 = hi1 = lo1 = v0 = v1 = 0.0
        while i0 < n10 and j0 < n20 and i1 < n11 and j1 < n21:
            i0, j0, hi0, lo0, v0 = _merge_step(a0, b0, n10, n20, i0, j0, hi0, lo0)
            i1, j1, hi1, lo1, v1 = _merge_step(a1, b1, n11, n21, i1, j1, hi1, lo1)
        d_plus[c0], d_minus[c0] = _merge_rest(a0, b0, n10, n20, i0, j0, hi0, lo0, v0)
        d_plus[c1], d_minus[c1] = _merge_rest(a1, b1, n11, n21, i1, j1, hi1, lo1, v1)
    return d_plus, d_minus


@nb.njit(cache=True)
def ks_exact_two_sided_equal_n(n: int, h: int) -> float:
    """``P(D_{n,n} >= h/n)`` for the two-sided statistic with equal sample sizes.

    Alternating reflection series ``2 * sum_k (-1)^(k+1) C(2n, n-kh) / C(2n, n)``, evaluated
    from the innermost term outwards (Horner form) so that no large binomial coefficient is
    formed and no cancellation occurs.
    """
    total = 0.0
    k = n // h
    while k >= 0:
        ratio = 1.0
        for step in range(h):
            ratio = (n - k * h - step) * ratio / (n + k * h + step + 1)
        total = ratio * (1.0 - total)
        k -= 1
    return 2.0 * total


@nb.njit(cache=True)
def ks_exact_two_sided(m: int, n: int, g: int, h: int) -> float:
    """``P(D_{m,n} >= h / lcm(m, n))`` for the two-sided statistic (Hodges' inside method).

    Lattice paths from (0, 0) to (m, n) are walked column by column; ``share[y]`` holds the
    share of paths to (x, y) that have already touched a boundary ``|x/m - y/n| >= h/lcm``,
    so the recursion yields the p-value itself without subtracting from one (Viehmann 2021).
    Points outside the band have share 1.
    """
    if m < n:
        m, n = n, m
    mg = m // g
    ng = n // g
    share = np.ones(n + 1)
    top = min(-((-h) // mg) - 1, n)  # largest y still inside the band at x = 0
    share[: top + 1] = 0.0
    lo_prev = 0
    for x in range(1, m + 1):
        lo = max((ng * x - h) // mg + 1, 0)
        hi = min(-((-(ng * x + h)) // mg) - 1, n)
        if hi < lo:
            return 1.0
        share[lo_prev:lo] = 1.0
        below = 1.0 if lo > 0 else 0.0
        for y in range(lo, hi + 1):
            below = (share[y] * x + below * y) / (x + y)
            share[y] = below
        lo_prev = lo
    return share[n]


@nb.njit(cache=True)
def ks_exact_one_sided_equal_n(n: int, h: int) -> float:
    """``P(D+_{n,n} >= h/n) = C(2n, n-h) / C(2n, n)`` as a product of ratios."""
    prob = 1.0
    for step in range(h):
        prob *= (n - step) / (n + step + 1.0)
    return prob


@nb.njit(cache=True)
def ks_paths_touching(reach: np.ndarray, between: np.ndarray, outer: np.ndarray) -> float:
    """Number of lattice paths that touch the one-sided boundary (Hodges' outside method).

    Boundary point ``j`` is the first point at height ``j`` on or beyond the boundary;
    ``reach[j]`` counts all paths from the origin to it, ``between[j, i]`` the paths from
    boundary point ``i`` to boundary point ``j`` and ``outer[j]`` the paths from it to the
    end. Paths are counted by the first boundary point they touch:
    ``first[j] = reach[j] - sum_i between[j, i] * first[i]``. Sequential on purpose: the
    order of the subtractions fixes the rounding.
    """
    count = reach.size
    first = np.zeros(count)
    first[0] = 1.0
    for j in range(1, count):
        value = reach[j]
        for i in range(j):
            value -= between[j, i] * first[i]
        first[j] = value
    total = 0.0
    for j in range(count):
        total += first[j] * outer[j]
    return total


@nb.njit(cache=True)
def smirnov_sf(n: int, d: float) -> float:
    """``P(D+_n >= d)``: exact one-sample one-sided Kolmogorov-Smirnov tail probability.

    Birnbaum and Tingey's (1951) sum
    ``d * sum_{j <= n(1-d)} C(n, j) (d + j/n)^(j-1) (1 - d - j/n)^(n-j)`` of positive terms,
    each formed in log space. The log binomial coefficient is accumulated with
    compensated (Kahan) summation: over ~10^5 terms plain summation loses ~1e-9 relative.
    """
    if d <= 0.0:
        return 1.0
    if d >= 1.0:
        return 0.0
    last = int(np.floor(n * (1.0 - d)))
    total = 0.0
    log_binom = 0.0
    compensation = 0.0
    for j in range(last + 1):
        if j > 0:
            step = np.log((n - j + 1) / j) - compensation
            updated = log_binom + step
            compensation = (updated - log_binom) - step
            log_binom = updated
        p = d + j / n
        log_term = log_binom + (j - 1) * np.log(p)
        if j < n:
            q = 1.0 - p
            if q <= 0.0:
                continue
            log_term += (n - j) * np.log(q)
        total += np.exp(log_term)
    return d * total


@nb.njit(cache=True, parallel=True)
def smirnov_sf_many(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """:func:`smirnov_sf` for each pair ``(n[i], d[i])``, in parallel."""
    out = np.empty(d.size)
    for i in nb.prange(d.size):
        out[i] = smirnov_sf(n[i], d[i])
    return out


@nb.njit(cache=True, parallel=True)
def rank_statistics(
    ref: np.ndarray, ref_n: np.ndarray, cur: np.ndarray, cur_n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Midrank statistics of every column, from one merge per column.

    Same layout as :func:`ks_extremes`. A block of ``t`` equal pooled values starting
    after ``pos`` values has midrank ``r = pos + (t + 1) / 2``. Returns, per column:

    - the sum of the reference's midranks (Mann-Whitney);
    - the tie term ``sum (t^3 - t)`` over blocks;
    - Anderson's ``U = n sum_i (r_i - i)^2 + m sum_j (s_j - j)^2`` (Cramer-von Mises),
      ``r_i`` (``s_j``) the midrank of the i-th smallest reference (current) value.

    Midranks are half-integers, so the sums are exact in float64 (below 2^51) whatever
    the order of the additions.
    """
    d = ref.shape[1]
    rank_sum = np.zeros(d)
    tie_term = np.zeros(d)
    cvm_u = np.zeros(d)
    for col in nb.prange(d):
        a = ref[:, col]
        b = cur[:, col]
        n1 = ref_n[col]
        n2 = cur_n[col]
        i = 0
        j = 0
        ranks = 0.0
        ties = 0.0
        dev_ref = 0.0
        dev_cur = 0.0
        while i < n1 or j < n2:
            if j >= n2 or (i < n1 and a[i] <= b[j]):
                v = a[i]
            else:
                v = b[j]
            i0 = i
            j0 = j
            while i < n1 and a[i] == v:
                i += 1
            while j < n2 and b[j] == v:
                j += 1
            t = float(i - i0 + j - j0)
            midrank = i0 + j0 + (t + 1.0) / 2.0
            ranks += (i - i0) * midrank
            ties += t * t * t - t
            for k in range(i0 + 1, i + 1):
                dev_ref += (midrank - k) ** 2
            for k in range(j0 + 1, j + 1):
                dev_cur += (midrank - k) ** 2
        rank_sum[col] = ranks
        tie_term[col] = ties
        cvm_u[col] = n1 * dev_ref + n2 * dev_cur
    return rank_sum, tie_term, cvm_u


@nb.njit(cache=True)
def partial_shuffles(offsets: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Uniform random subsets of ``perm``'s entries, one per row of ``offsets``.

    Row ``b`` runs the first ``k`` steps of a Fisher-Yates shuffle of ``perm`` (length N):
    step ``i`` swaps positions ``i`` and ``i + offsets[b, i]``, so with ``offsets[b, i]``
    uniform on ``0, ..., N - 1 - i`` (drawn by the caller's Generator) the ``k`` entries of
    row ``b`` of the (rows, k) result are a uniform random subset. Each row costs O(k), not
    O(N): its swaps are undone, so ``perm`` is left as it was found.
    """
    rows, k = offsets.shape
    out = np.empty((rows, k), dtype=perm.dtype)
    for b in range(rows):
        for i in range(k):
            j = i + offsets[b, i]
            perm[i], perm[j] = perm[j], perm[i]
            out[b, i] = perm[i]
        for i in range(k - 1, -1, -1):
            j = i + offsets[b, i]
            perm[i], perm[j] = perm[j], perm[i]
    return out


@nb.njit(cache=True)
def ecdf_gap_sums(
    counts: np.ndarray, centre: np.ndarray, weights: np.ndarray, total: int, midpoint: int
) -> np.ndarray:
    """Weighted sums of squared ECDF gaps, one per row of per-value counts.

    Row ``b`` of the (rows, K) integer array ``counts`` holds one sample's counts of the K
    distinct pooled values in ascending order; with its cumulative counts ``A_v`` the result
    is ``sum_v weights[v] * (total * (2 A_v - midpoint * counts[b, v]) - centre[v])^2``.
    ``midpoint=0`` takes the ECDF at each value (Cramer-von Mises), ``midpoint=1`` halfway
    through its jump (midrank Anderson-Darling). ``centre`` is an integer array, so each gap
    is exact in int64 before it is squared in float64.
    """
    rows, n_values = counts.shape
    out = np.empty(rows)
    for b in range(rows):
        cumulative = 0
        acc = 0.0
        for v in range(n_values):
            a = counts[b, v]
            cumulative += a
            gap = float(total * (2 * cumulative - midpoint * a) - centre[v])
            acc += weights[v] * gap * gap
        out[b] = acc
    return out


@nb.njit(cache=True)
def ecdf_gap_prefix_sums(centre: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Prefix sums of ``weights * centre**p`` (p = 0, 1, 2) for :func:`ecdf_gap_sums_sparse`.

    Row ``v`` of the (K + 1, 6) result holds the three sums over the first ``v`` values,
    each as an unevaluated sum ``hi + lo`` (columns ``p`` and ``3 + p``; compensated
    summation, TwoSum), so that the sum over any range of values, a difference of two
    prefix sums, keeps its own relative accuracy instead of inheriting the rounding of the
    whole prefix. The six numbers of a value sit together because the sparse sums read the
    rows in increasing but irregular order.
    """
    n_values = weights.size
    sums = np.zeros((n_values + 1, 6))
    for v in range(n_values):
        c = float(centre[v])
        terms = (weights[v], weights[v] * c, weights[v] * c * c)
        for p in range(3):
            hi = sums[v, p]
            s = hi + terms[p]
            z = s - hi
            sums[v + 1, p] = s
            sums[v + 1, 3 + p] = sums[v, 3 + p] + ((hi - (s - z)) + (terms[p] - z))
    return sums


@nb.njit(cache=True)
def ecdf_gap_sums_sparse(
    received: np.ndarray,
    centre: np.ndarray,
    weights: np.ndarray,
    total: int,
    midpoint: int,
    prefix: np.ndarray,
) -> np.ndarray:
    """:func:`ecdf_gap_sums` of the counts of each row of value indices, in O(k log k).

    Row ``b`` of the (rows, k) array ``received`` lists the values (indices into the K
    distinct values) of one sample of size k. Between two consecutive values it holds, its
    cumulative count ``A`` is constant, so those values contribute
    ``sum w (2 N A - c)^2 = x^2 W0 - 2 x W1 + W2`` with ``x = 2 N A`` and ``Wp`` the sum of
    ``w c^p`` over them, read from the ``prefix`` sums of :func:`ecdf_gap_prefix_sums`.
    Relative to the exact sums the result is off by about ``k * 2^-53`` (the expansion
    cancels about a factor k), which the callers' tolerance absorbs.
    """
    rows, size = received.shape
    n_values = weights.size
    out = np.empty(rows)
    for b in range(rows):
        values = np.sort(received[b])
        acc = 0.0
        cumulative = 0
        start = 0  # first value not yet accounted for
        i = 0
        while i <= size:
            stop = values[i] if i < size else n_values
            if stop > start:
                x = 2.0 * total * cumulative
                w0 = (prefix[stop, 0] - prefix[start, 0]) + (prefix[stop, 3] - prefix[start, 3])
                w1 = (prefix[stop, 1] - prefix[start, 1]) + (prefix[stop, 4] - prefix[start, 4])
                w2 = (prefix[stop, 2] - prefix[start, 2]) + (prefix[stop, 5] - prefix[start, 5])
                acc += x * x * w0 - 2.0 * x * w1 + w2
            if i == size:
                break
            j = i
            while j < size and values[j] == stop:
                j += 1
            count = j - i
            cumulative += count
            gap = float(total * (2 * cumulative - midpoint * count) - centre[stop])
            acc += weights[stop] * gap * gap
            start = stop + 1
            i = j
        out[b] = acc
    return out


@nb.njit(cache=True)
def subset_indicators(offsets: np.ndarray, out: np.ndarray) -> None:
    """Set row ``b`` of the zeroed (rows, size) ``out`` to 1 on a uniform random ``k``-subset.

    As :func:`partial_shuffles` (``offsets[b, i]`` uniform on ``0, ..., size - 1 - i``,
    ``k = offsets.shape[1]``), but the subset is written as indicators over the ``size``
    positions, ready to be one side of a matrix product (in ``out``'s float type).
    """
    rows, k = offsets.shape
    perm = np.arange(out.shape[1])
    for b in range(rows):
        for i in range(k):
            j = i + offsets[b, i]
            perm[i], perm[j] = perm[j], perm[i]
            out[b, perm[i]] = 1.0
        for i in range(k - 1, -1, -1):
            j = i + offsets[b, i]
            perm[i], perm[j] = perm[j], perm[i]


@nb.njit(cache=True)
def gram_to_sq_dist(gram: np.ndarray, norms: np.ndarray) -> None:
    size = gram.shape[0]
    for i in range(size):
        for j in range(size):
            v = norms[i] + norms[j] - 2.0 * gram[i, j]
            gram[i, j] = v if v > 0.0 else 0.0
        gram[i, i] = 0.0


@nb.njit(cache=True)
def positive_pair_values(sq_dist: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The positive squared distances over all pairs ``i < j`` of pooled rows.

    Distinct rows k < j occurring ``counts[k]`` and ``counts[j]`` times form
    ``counts[k] * counts[j]`` pairs; two copies of one row are at distance 0.
    """
    size = sq_dist.shape[0]
    total = 0
    for k in range(size - 1):
        for j in range(k + 1, size):
            if sq_dist[k, j] > 0.0:
                total += int(counts[k] * counts[j])
    out = np.empty(total)
    pos = 0
    for k in range(size - 1):
        for j in range(k + 1, size):
            if sq_dist[k, j] > 0.0:
                stop = pos + int(counts[k] * counts[j])
                out[pos:stop] = sq_dist[k, j]
                pos = stop
    return out


@nb.njit(cache=True)
def knn_edge_changes(x, start, dist, k, low, high, labels, counts):
    """Add, for rows ``start..``, each labelling's same-sample edges of the full k-NN graph
    minus those of the graph without feature j to ``counts[j, labelling]``.

    Only the edges in which the two graphs differ are visited. Without feature j the
    squared distance to row l is ``dist[l] - (x_ij - x_lj)^2``, at most ``dist[l]``, so
    the k nearest rows without j lie within ``radius + max_l (x_ij - x_lj)^2`` of row i
    in all features (``radius``: the k-th smallest full distance): only rows that close
    are scanned. Ties are broken by row position.
    """
    size, d = x.shape
    n_labellings = labels.shape[1]
    near = np.empty(k, dtype=np.int64)
    near_dist = np.empty(k)
    for r in range(dist.shape[0]):
        i = start + r
        row = dist[r]
        row[i] = np.inf
        order = np.argsort(row, kind="mergesort")
        full = order[:k]
        radius = row[order[k - 1]]
        for j in range(d):
            xij = x[i, j]
            reach = radius + max((xij - low[j]) ** 2, (high[j] - xij) ** 2)
            reach += 1e-9 * (abs(reach) + 1.0)
            filled = 0
            for t in range(size - 1):
                l = order[t]
                if row[l] > reach:
                    break
                value = row[l] - (xij - x[l, j]) ** 2
                if filled == k and (value > near_dist[k - 1] or (
                        value == near_dist[k - 1] and l > near[k - 1])):
                    continue
                p = min(filled, k - 1)
                while p > 0 and (near_dist[p - 1] > value or (
                        near_dist[p - 1] == value and near[p - 1] > l)):
                    near[p] = near[p - 1]
                    near_dist[p] = near_dist[p - 1]
                    p -= 1
                near[p] = l
                near_dist[p] = value
                filled = min(filled + 1, k)
            for sign in (1.0, -1.0):
                edges, others = (full, near) if sign > 0 else (near, full)
                for a in range(k):
                    l = edges[a]
                    shared = False
                    for c in range(k):
                        if others[c] == l:
                            shared = True
                            break
                    if not shared:
                        for b in range(n_labellings):
                            if labels[i, b] == labels[l, b]:
                                counts[j, b] += sign


# -- p-values, correction and result ------------------------------------------------------
