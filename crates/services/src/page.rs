//! One page of a list, as a use case returns it: the HTTP layer turns the
//! last item's key into the opaque cursor.

/// Up to `limit` items, and whether more follow.
#[derive(Debug)]
pub struct Slice<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Slice<T> {
    /// From `limit + 1` fetched rows: the extra row only says whether
    /// another page exists.
    pub fn of(mut rows: Vec<T>, limit: i64) -> Slice<T> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        Slice { items: rows, more }
    }
}
