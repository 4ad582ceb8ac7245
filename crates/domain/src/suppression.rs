//! Small-cell suppression of published counts (DESIGN.md §7).
//!
//! Counts of 1 to 4 people are withheld from roles without access to
//! personal data (*primary* suppression), and further cells are withheld
//! with them (*secondary* or complementary suppression) so that no withheld
//! value can be recovered from the visible cells and the row, column and
//! grand totals published beside them — what statistical offices do.
//!
//! The rule, and why it is enough. Write the table with its margins as an
//! `(R+1) × (C+1)` grid `y` where `y[i][j]` is a cell, `y[i][C] = -row
//! total`, `y[R][j] = -column total` and `y[R][C] = grand total`: then every
//! row and every column of `y` sums to zero, and those are all the
//! equations a reader has. Make a bipartite graph with a node per row and
//! per column of `y` and an edge per unknown entry (withheld, or not
//! published at all). Moving `+δ, -δ, +δ, …` around a cycle of that graph
//! keeps every equation true, and the solutions differ by exactly such
//! moves, so an unknown is determined by the equations if and only if its
//! edge lies on no cycle (it is a bridge). [`suppress`] withholds
//! complementary cells until no withheld cell is a bridge, choosing only
//! nonzero cells: a cycle of nonzero integers admits a move of ±1 both ways
//! without any count going negative, so even a reader who knows counts are
//! non-negative integers learns no withheld value exactly.
//!
//! Tables whose rows are not additive (a person with several forms of
//! exploitation counts under each; a funnel of investigations, cases and
//! sentences) publish no row totals: those totals are unknowns the reader
//! never sees ([`Margins::ColumnsOnly`]).

use serde::{Deserialize, Serialize};

/// Counts below this (and above zero) are withheld.
pub const THRESHOLD: i64 = 5;

/// Whether a count must be withheld by itself: 1 to 4.
pub fn is_small(n: i64) -> bool {
    (1..THRESHOLD).contains(&n)
}

/// Which totals a table publishes beside its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Margins {
    /// Row totals, column totals and the grand total: the cells of a row
    /// add up to its total.
    All,
    /// Column totals only: rows are not additive (a multi-valued breakdown,
    /// a funnel), so no row total and no grand total is published.
    ColumnsOnly,
}

/// What to withhold from a table: `cells[i][j]`, `row_totals[i]`,
/// `column_totals[j]` and `grand_total` are `true` when withheld. Totals
/// a table does not publish are `false` (nothing to withhold).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Withheld {
    pub cells: Vec<Vec<bool>>,
    pub row_totals: Vec<bool>,
    pub column_totals: Vec<bool>,
    pub grand_total: bool,
}

impl Withheld {
    /// Whether anything is withheld.
    pub fn any(&self) -> bool {
        self.grand_total
            || self.row_totals.iter().any(|b| *b)
            || self.column_totals.iter().any(|b| *b)
            || self.cells.iter().flatten().any(|b| *b)
    }
}

/// An entry of the extended grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Visible,
    Withheld,
    /// Not published at all (the row totals of a [`Margins::ColumnsOnly`]
    /// table): an unknown the reader never sees, free to move.
    Unpublished,
}

/// The extended grid: `rows × cols` cells plus the margins.
struct Grid {
    /// R + 1
    h: usize,
    /// C + 1
    w: usize,
    value: Vec<i64>,
    state: Vec<State>,
}

impl Grid {
    fn new(cells: &[Vec<i64>], columns: usize, margins: Margins) -> Grid {
        let (r, c) = (cells.len(), columns);
        let (h, w) = (r + 1, c + 1);
        let mut value = vec![0i64; h * w];
        for (i, row) in cells.iter().enumerate() {
            assert_eq!(row.len(), c, "every row has one cell per column");
            for (j, n) in row.iter().enumerate() {
                assert!(*n >= 0, "counts are not negative");
                value[i * w + j] = *n;
                value[i * w + c] += *n;
                value[r * w + j] += *n;
                value[r * w + c] += *n;
            }
        }
        let mut state = vec![State::Visible; h * w];
        if margins == Margins::ColumnsOnly {
            for i in 0..h {
                state[i * w + c] = State::Unpublished;
            }
        }
        Grid { h, w, value, state }
    }

    fn unknown(&self, k: usize) -> bool {
        self.state[k] != State::Visible
    }

    /// The withheld entries that lie on no cycle of unknowns (bridges of
    /// the bipartite row/column graph), found with Tarjan's algorithm.
    fn determined(&self) -> Vec<usize> {
        let n = self.h + self.w;
        let mut adj: Vec<Vec<(usize, usize)>> = vec![vec![]; n];
        for i in 0..self.h {
            for j in 0..self.w {
                let k = i * self.w + j;
                if self.unknown(k) {
                    adj[i].push((self.h + j, k));
                    adj[self.h + j].push((i, k));
                }
            }
        }
        let mut disc = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut time = 0usize;
        let mut bridges = vec![];
        // Iterative DFS: (node, edge id it was entered by, next neighbour index).
        for root in 0..n {
            if disc[root] != usize::MAX {
                continue;
            }
            let mut stack: Vec<(usize, usize, usize)> = vec![(root, usize::MAX, 0)];
            disc[root] = time;
            low[root] = time;
            time += 1;
            while let Some(&mut (u, via, ref mut next)) = stack.last_mut() {
                if *next < adj[u].len() {
                    let (v, e) = adj[u][*next];
                    *next += 1;
                    if e == via {
                        continue;
                    }
                    if disc[v] == usize::MAX {
                        disc[v] = time;
                        low[v] = time;
                        time += 1;
                        stack.push((v, e, 0));
                    } else {
                        low[u] = low[u].min(disc[v]);
                    }
                } else {
                    stack.pop();
                    if let Some(&(p, _, _)) = stack.last() {
                        low[p] = low[p].min(low[u]);
                        if low[u] > disc[p] {
                            bridges.push(via);
                        }
                    }
                }
            }
        }
        bridges.retain(|k| self.state[*k] == State::Withheld);
        bridges.sort_unstable();
        bridges
    }

    /// The price of withholding one more entry: nothing if it is unknown
    /// already; its count otherwise (withhold as little as possible), more
    /// for a total (readers want totals) and much more for a zero (a zero
    /// pins a cycle under non-negativity, so it is the last resort).
    fn cost(&self, k: usize) -> u64 {
        if self.unknown(k) {
            return 0;
        }
        let v = self.value[k].unsigned_abs();
        let (i, j) = (k / self.w, k % self.w);
        let margin = if i == self.h - 1 || j == self.w - 1 {
            1_000_000
        } else {
            0
        };
        let zero = if v == 0 { 1_000_000_000 } else { 0 };
        v + margin + zero
    }

    /// Puts the withheld entry `k` on a cycle of four unknowns: the
    /// cheapest other row `a` and column `b` such that `(i,b)`, `(a,b)` and
    /// `(a,j)` are (made) unknown.
    fn complete(&mut self, k: usize) {
        let (i, j) = (k / self.w, k % self.w);
        let mut best: Option<(u64, usize, usize)> = None;
        for a in (0..self.h).filter(|a| *a != i) {
            for b in (0..self.w).filter(|b| *b != j) {
                let cost = self.cost(i * self.w + b)
                    + self.cost(a * self.w + b)
                    + self.cost(a * self.w + j);
                if best.is_none_or(|(c, _, _)| cost < c) {
                    best = Some((cost, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else {
            return;
        };
        for e in [i * self.w + b, a * self.w + b, a * self.w + j] {
            if self.state[e] == State::Visible {
                self.state[e] = State::Withheld;
            }
        }
    }
}

/// Decides what to withhold from a table of counts (`cells[i][j]`, with
/// `columns` columns, publishing `margins`): every count of 1 to 4, cells
/// or totals, and the complementary cells that keep each of them from being
/// recovered. `forced` entries (`(row, column)` of the extended grid, where
/// row `R` is the column totals and column `C` the row totals) are withheld
/// too: a total another table of the same answer withheld.
pub fn suppress(
    cells: &[Vec<i64>],
    columns: usize,
    margins: Margins,
    forced: &[(usize, usize)],
) -> Withheld {
    let mut g = Grid::new(cells, columns, margins);
    for k in 0..g.value.len() {
        if g.state[k] == State::Visible && is_small(g.value[k]) {
            g.state[k] = State::Withheld;
        }
    }
    for &(i, j) in forced {
        if i < g.h && j < g.w && g.state[i * g.w + j] == State::Visible {
            g.state[i * g.w + j] = State::Withheld;
        }
    }
    loop {
        let open = g.determined();
        let Some(&k) = open.first() else { break };
        let before = g.state.clone();
        g.complete(k);
        if g.state == before {
            // A 1 × 1 table (or a single row and column): nothing can hide
            // the cell but withholding everything.
            for s in g.state.iter_mut() {
                if *s == State::Visible {
                    *s = State::Withheld;
                }
            }
            break;
        }
    }
    let (r, c) = (g.h - 1, g.w - 1);
    let withheld = |k: usize| g.state[k] == State::Withheld;
    Withheld {
        cells: (0..r)
            .map(|i| (0..c).map(|j| withheld(i * g.w + j)).collect())
            .collect(),
        row_totals: (0..r).map(|i| withheld(i * g.w + c)).collect(),
        column_totals: (0..c).map(|j| withheld(r * g.w + j)).collect(),
        grand_total: withheld(r * g.w + c),
    }
}

#[cfg(test)]
mod tests {
    //! The proof obligations: for tables where a naive rule leaks, every
    //! row/column/total equation is solved exactly (rational Gaussian
    //! elimination) to show which withheld cells it determines, and every
    //! non-negative integer table consistent with what is shown is
    //! enumerated to show each withheld cell can take two values.

    use super::*;

    /// An exact fraction, enough for incidence matrices.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Q(i128, i128);

    fn gcd(a: i128, b: i128) -> i128 {
        if b == 0 {
            a.abs()
        } else {
            gcd(b, a % b)
        }
    }

    impl Q {
        fn new(n: i128, d: i128) -> Q {
            let g = gcd(n, d).max(1);
            let s = if d < 0 { -1 } else { 1 };
            Q(s * n / g, s * d / g)
        }
        fn zero(self) -> bool {
            self.0 == 0
        }
        fn sub(self, o: Q) -> Q {
            Q::new(self.0 * o.1 - o.0 * self.1, self.1 * o.1)
        }
        fn mul(self, o: Q) -> Q {
            Q::new(self.0 * o.0, self.1 * o.1)
        }
        fn div(self, o: Q) -> Q {
            Q::new(self.0 * o.1, self.1 * o.0)
        }
    }

    /// The published view of a table: each entry of the extended grid is
    /// `Some(value)` when shown and `None` when unknown to the reader.
    struct Published {
        h: usize,
        w: usize,
        shown: Vec<Option<i64>>,
        /// Which unknowns are real counts (withheld) rather than totals the
        /// table never publishes.
        withheld: Vec<bool>,
        /// Whether row `i`'s equation exists (its total is published or
        /// withheld, not absent).
        row_equation: Vec<bool>,
    }

    fn publish(cells: &[Vec<i64>], margins: Margins, w: &Withheld) -> Published {
        let g = Grid::new(cells, cells[0].len(), margins);
        let (r, c) = (g.h - 1, g.w - 1);
        let mut shown = vec![None; g.h * g.w];
        let mut withheld = vec![false; g.h * g.w];
        for i in 0..g.h {
            for j in 0..g.w {
                let k = i * g.w + j;
                let hidden = match (i == r, j == c) {
                    (false, false) => w.cells[i][j],
                    (false, true) => w.row_totals[i] || margins == Margins::ColumnsOnly,
                    (true, false) => w.column_totals[j],
                    (true, true) => w.grand_total || margins == Margins::ColumnsOnly,
                };
                let unpublished = j == c && margins == Margins::ColumnsOnly;
                withheld[k] = hidden && !unpublished;
                if !hidden {
                    shown[k] = Some(g.value[k]);
                }
            }
        }
        let row_equation = (0..g.h)
            .map(|_| margins == Margins::All)
            .collect::<Vec<_>>();
        Published {
            h: g.h,
            w: g.w,
            shown,
            withheld,
            row_equation,
        }
    }

    /// The extended-grid entries (withheld ones) that the row, column and
    /// total equations determine: solve the linear system exactly and keep
    /// the unknowns every null-space vector leaves at zero.
    fn determined_by_equations(p: &Published) -> Vec<usize> {
        let unknowns: Vec<usize> = (0..p.h * p.w).filter(|k| p.shown[*k].is_none()).collect();
        let col_of = |k: usize| unknowns.iter().position(|u| *u == k);
        // One equation per row of the grid that has one (cells = total),
        // one per column (cells = total); coefficients over the unknowns.
        let mut rows: Vec<Vec<Q>> = vec![];
        let (r, c) = (p.h - 1, p.w - 1);
        for i in 0..p.h {
            if i < r && !p.row_equation[i] {
                continue;
            }
            if i == r && !p.row_equation.iter().take(r).all(|b| *b) {
                continue;
            }
            let mut eq = vec![Q(0, 1); unknowns.len()];
            for j in 0..p.w {
                if let Some(u) = col_of(i * p.w + j) {
                    eq[u] = Q(if j == c { -1 } else { 1 }, 1);
                }
            }
            rows.push(eq);
        }
        for j in 0..p.w {
            if j == c && !p.row_equation.iter().all(|b| *b) {
                continue;
            }
            let mut eq = vec![Q(0, 1); unknowns.len()];
            for i in 0..p.h {
                if let Some(u) = col_of(i * p.w + j) {
                    eq[u] = Q(if i == r { -1 } else { 1 }, 1);
                }
            }
            rows.push(eq);
        }
        // Reduced row echelon form.
        let n = unknowns.len();
        let mut pivots = vec![];
        let mut lead = 0;
        for col in 0..n {
            let Some(p_row) = (lead..rows.len()).find(|r| !rows[*r][col].zero()) else {
                continue;
            };
            rows.swap(lead, p_row);
            let pv = rows[lead][col];
            for x in rows[lead].iter_mut() {
                *x = x.div(pv);
            }
            for other in 0..rows.len() {
                if other != lead && !rows[other][col].zero() {
                    let f = rows[other][col];
                    let lead_row = rows[lead].clone();
                    for (x, l) in rows[other].iter_mut().zip(lead_row) {
                        *x = x.sub(f.mul(l));
                    }
                }
            }
            pivots.push(col);
            lead += 1;
        }
        // Null space: one vector per free column. A pivot unknown is
        // determined when no free column appears in its row.
        let free: Vec<usize> = (0..n).filter(|c| !pivots.contains(c)).collect();
        let mut out = vec![];
        for (row, &pc) in pivots.iter().enumerate() {
            if free.iter().all(|f| rows[row][*f].zero()) && p.withheld[unknowns[pc]] {
                out.push(unknowns[pc]);
            }
        }
        out.sort_unstable();
        out
    }

    /// The least and greatest value of every withheld entry over all
    /// non-negative integer tables that show what is shown.
    fn ranges(cells: &[Vec<i64>], margins: Margins, w: &Withheld) -> Vec<(usize, i64, i64)> {
        let p = publish(cells, margins, w);
        let (r, c) = (p.h - 1, p.w - 1);
        let grand: i64 = cells.iter().flatten().sum();
        let inner: Vec<usize> = (0..r)
            .flat_map(|i| (0..c).map(move |j| (i, j)))
            .map(|(i, j)| i * p.w + j)
            .collect();
        let mut lo = vec![i64::MAX; p.h * p.w];
        let mut hi = vec![i64::MIN; p.h * p.w];
        // Shown cells are fixed from the start; unknown ones vary.
        let mut x: Vec<i64> = (0..p.h * p.w).map(|k| p.shown[k].unwrap_or(0)).collect();
        fn walk(
            idx: usize,
            inner: &[usize],
            p: &Published,
            grand: i64,
            x: &mut Vec<i64>,
            lo: &mut [i64],
            hi: &mut [i64],
        ) {
            let (r, c) = (p.h - 1, p.w - 1);
            if idx == inner.len() {
                let mut full = x.clone();
                for i in 0..r {
                    full[i * p.w + c] = (0..c).map(|j| x[i * p.w + j]).sum();
                }
                for j in 0..=c {
                    full[r * p.w + j] = (0..r).map(|i| full[i * p.w + j]).sum();
                }
                let ok = (0..p.h * p.w).all(|k| p.shown[k].is_none_or(|s| s == full[k]));
                if ok {
                    for k in 0..p.h * p.w {
                        lo[k] = lo[k].min(full[k]);
                        hi[k] = hi[k].max(full[k]);
                    }
                }
                return;
            }
            let k = inner[idx];
            if p.shown[k].is_some() {
                return walk(idx + 1, inner, p, grand, x, lo, hi);
            }
            let (i, j) = (k / p.w, k % p.w);
            let later = &inner[idx + 1..];
            let row_total = p.shown[i * p.w + c];
            let col_total = p.shown[r * p.w + j];
            let last_in_row = later.iter().all(|o| o / p.w != i || p.shown[*o].is_some());
            let last_in_col = later.iter().all(|o| o % p.w != j || p.shown[*o].is_some());
            let row_rest = || row_total.map(|t| t - (0..c).map(|b| x[i * p.w + b]).sum::<i64>());
            let col_rest = || col_total.map(|t| t - (0..r).map(|a| x[a * p.w + j]).sum::<i64>());
            let candidates: Vec<i64> = match (last_in_row, row_rest(), last_in_col, col_rest()) {
                (true, Some(v), _, _) | (_, _, true, Some(v)) => {
                    if v < 0 {
                        return;
                    }
                    vec![v]
                }
                (_, rr, _, cr) => {
                    let bound = [Some(grand), rr, cr].into_iter().flatten().min().unwrap();
                    if bound < 0 {
                        return;
                    }
                    (0..=bound).collect()
                }
            };
            for v in candidates {
                x[k] = v;
                walk(idx + 1, inner, p, grand, x, lo, hi);
            }
            x[k] = 0;
        }
        walk(0, &inner, &p, grand, &mut x, &mut lo, &mut hi);
        (0..p.h * p.w)
            .filter(|k| p.withheld[*k])
            .map(|k| (k, lo[k], hi[k]))
            .collect()
    }

    fn primary_only(cells: &[Vec<i64>], margins: Margins) -> Withheld {
        let mut w = Withheld {
            cells: cells
                .iter()
                .map(|r| r.iter().map(|n| is_small(*n)).collect())
                .collect(),
            row_totals: cells
                .iter()
                .map(|r| margins == Margins::All && is_small(r.iter().sum()))
                .collect(),
            column_totals: (0..cells[0].len())
                .map(|j| is_small(cells.iter().map(|r| r[j]).sum()))
                .collect(),
            grand_total: false,
        };
        w.grand_total = margins == Margins::All && is_small(cells.iter().flatten().sum());
        w
    }

    /// Naive secondary suppression: a second cell in each row with exactly
    /// one withheld, and nothing about columns.
    fn rows_only(cells: &[Vec<i64>]) -> Withheld {
        let mut w = primary_only(cells, Margins::All);
        for (i, row) in cells.iter().enumerate() {
            if w.cells[i].iter().filter(|b| **b).count() == 1 {
                let j = (0..row.len())
                    .filter(|j| !w.cells[i][*j] && row[*j] > 0)
                    .min_by_key(|j| row[*j])
                    .unwrap();
                w.cells[i][j] = true;
            }
        }
        w
    }

    fn assert_safe(cells: &[Vec<i64>], margins: Margins) -> Withheld {
        let w = suppress(cells, cells[0].len(), margins, &[]);
        // Every small count is withheld.
        for (i, row) in cells.iter().enumerate() {
            for (j, n) in row.iter().enumerate() {
                if is_small(*n) {
                    assert!(w.cells[i][j], "cell ({i},{j}) = {n} shown");
                }
            }
        }
        let p = publish(cells, margins, &w);
        assert_eq!(
            determined_by_equations(&p),
            Vec::<usize>::new(),
            "the equations determine a withheld cell: {w:?}"
        );
        for (k, lo, hi) in ranges(cells, margins, &w) {
            assert!(
                lo < hi,
                "entry {k} is pinned to {lo} by non-negativity: {w:?}"
            );
        }
        w
    }

    const LEAKY: [[i64; 3]; 3] = [[3, 10, 12], [8, 9, 15], [7, 11, 2]];

    fn leaky() -> Vec<Vec<i64>> {
        LEAKY.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn primary_suppression_alone_leaks_through_the_totals() {
        let cells = leaky();
        let naive = primary_only(&cells, Margins::All);
        let p = publish(&cells, Margins::All, &naive);
        let determined = determined_by_equations(&p);
        // (0,0) = 25 - 10 - 12 and (2,2) = 20 - 7 - 11.
        assert_eq!(determined, vec![0, 2 * 4 + 2]);
        let r = ranges(&cells, Margins::All, &naive);
        assert!(r.iter().all(|(_, lo, hi)| lo == hi));
    }

    #[test]
    fn row_wise_complements_still_leak_through_the_columns() {
        let cells = vec![vec![3, 10, 12, 6], vec![8, 9, 15, 7], vec![7, 11, 20, 9]];
        let naive = rows_only(&cells);
        let p = publish(&cells, Margins::All, &naive);
        // Row 0 hides 3 and 6; column 0 still gives 3 = 18 - 8 - 7.
        assert!(!determined_by_equations(&p).is_empty());
    }

    #[test]
    fn no_withheld_cell_is_determined_by_rows_columns_or_totals() {
        assert_safe(&leaky(), Margins::All);
        assert_safe(
            &[vec![3, 10, 12, 6], vec![8, 9, 15, 7], vec![7, 11, 20, 9]],
            Margins::All,
        );
        // A small cell alone in its column and row among zeros.
        assert_safe(&[vec![0, 0, 6], vec![2, 0, 7], vec![9, 8, 5]], Margins::All);
        // Several small cells in one row.
        assert_safe(
            &[vec![1, 2, 3], vec![8, 9, 10], vec![6, 7, 12]],
            Margins::All,
        );
        // A small row total (1 + 0 + 0): the whole row is small.
        let w = assert_safe(
            &[vec![1, 0, 0], vec![8, 9, 10], vec![6, 7, 12]],
            Margins::All,
        );
        assert!(w.row_totals[0]);
    }

    #[test]
    fn a_series_hides_a_second_figure_beside_a_lone_small_one() {
        // One column: the total would give the small figure away.
        let cells = vec![vec![12], vec![3], vec![9], vec![20]];
        let w = assert_safe(&cells, Margins::All);
        assert!(w.cells[1][0]);
        assert_eq!(w.cells.iter().flatten().filter(|b| **b).count(), 2);
        assert!(w.cells[2][0], "the smallest other figure hides it: {w:?}");
        assert!(!w.grand_total);
    }

    #[test]
    fn tables_without_row_totals_protect_each_column() {
        let cells = vec![vec![3, 10, 12], vec![8, 9, 15], vec![7, 11, 2]];
        let w = assert_safe(&cells, Margins::ColumnsOnly);
        assert!(w.row_totals.iter().all(|b| !b), "none published");
        assert!(!w.grand_total);
    }

    #[test]
    fn large_counts_are_never_withheld_for_nothing() {
        let cells = vec![vec![30, 10], vec![8, 90]];
        let w = suppress(&cells, 2, Margins::All, &[]);
        assert!(!w.any());
    }

    #[test]
    fn a_forced_total_is_protected_like_a_small_one() {
        let cells = vec![vec![30, 10], vec![8, 90], vec![7, 7]];
        // Row total 1 (= 38) withheld because another table withheld it.
        let w = suppress(&cells, 2, Margins::All, &[(0, 2)]);
        assert!(w.row_totals[0]);
        let p = publish(&cells, Margins::All, &w);
        assert!(determined_by_equations(&p).is_empty());
    }

    #[test]
    fn a_lone_cell_is_withheld_with_everything() {
        let w = suppress(&[vec![3]], 1, Margins::All, &[]);
        assert!(w.cells[0][0] && w.grand_total && w.row_totals[0] && w.column_totals[0]);
    }
}
