//! Sorting through one copy of the standard library's sort.
//!
//! `slice::sort_by` is generic over the element and the comparison, and
//! each instance is 3–9 KiB of wasm; collecting into a `BTreeMap` or
//! `BTreeSet` sorts too. A dozen instances made up an eighth of
//! `policy.wasm`. The lists sorted here are short (a selector's keys, a
//! requirement's values, a request's edits), so they are sorted as indices
//! by one non-generic call, and sets are built by inserting.

use std::cmp::Ordering;

/// Sorts `items` by `compare`, stably (equal items keep their order), with
/// the standard library's stable sort on their indices.
pub fn sort_by<T>(items: &mut Vec<T>, compare: impl Fn(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    sort_indices(&mut order, &|a, b| match (items.get(a), items.get(b)) {
        (Some(a), Some(b)) => compare(a, b),
        _ => Ordering::Equal,
    });
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(
        order
            .into_iter()
            .filter_map(|index| slots.get_mut(index).and_then(Option::take)),
    );
}

/// Sorts `items` by the key `key` gives each, stably.
pub fn sort_by_key<T, K: Ord>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// The one instance of the standard library's sort.
#[inline(never)]
fn sort_indices(order: &mut [usize], compare: &dyn Fn(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| compare(a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_and_keeps_every_item() {
        let mut items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_by_key(&mut items, |(n, _)| *n);
        assert_eq!(items, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut words = vec!["b", "a"];
        sort_by(&mut words, |a, b| b.cmp(a));
        assert_eq!(words, ["b", "a"]);
        let mut empty: Vec<u8> = Vec::new();
        sort_by_key(&mut empty, |n| *n);
        assert!(empty.is_empty());
    }
}
