//! Host-side objects that a script refers to by number, such as `crypto` hashes in progress
//! and `zlib` streams: the number a script passes is checked before it is looked up, and a
//! number is not given twice.

use rquickjs::Value;
use std::collections::HashMap;

/// Largest handle: handles are JavaScript numbers, exact up to 2^53.
const MAX_HANDLE: u64 = (1 << 53) - 1;

/// The objects of a run, by handle.
pub(super) struct Handles<T> {
    live: HashMap<u64, T>,
    last: u64,
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Handles {
            live: HashMap::new(),
            last: 0,
        }
    }
}

impl<T> Handles<T> {
    /// Drops every object (the run ends), and the map's memory with them.
    pub(super) fn clear(&mut self) {
        self.live = HashMap::new();
    }

    /// How many objects are kept.
    pub(super) fn len(&self) -> usize {
        self.live.len()
    }

    /// Keeps `value` under a new handle; `None` when handles ran out.
    pub(super) fn insert(&mut self, value: T) -> Option<u64> {
        let id = self.last.checked_add(1).filter(|&id| id <= MAX_HANDLE)?;
        self.last = id;
        self.live.insert(id, value);
        Some(id)
    }

    /// Puts back under `id` an object taken out with [`Handles::remove`].
    pub(super) fn restore(&mut self, id: u64, value: T) {
        self.live.insert(id, value);
    }

    /// The object of the handle a script passed.
    pub(super) fn get(&self, handle: &Value<'_>) -> Option<&T> {
        self.live.get(&id(handle)?)
    }

    /// The object of the handle a script passed, to change.
    pub(super) fn get_mut(&mut self, handle: &Value<'_>) -> Option<&mut T> {
        self.live.get_mut(&id(handle)?)
    }

    /// Takes out the object of the handle a script passed, with its number.
    pub(super) fn remove(&mut self, handle: &Value<'_>) -> Option<(u64, T)> {
        let id = id(handle)?;
        self.live.remove(&id).map(|v| (id, v))
    }
}

/// The number of a handle a script passed, if it is one (a plain integral number in range).
fn id(v: &Value<'_>) -> Option<u64> {
    let n = v.as_number()?;
    (n.fract() == 0.0 && n >= 1.0 && n <= MAX_HANDLE as f64).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::Handles;

    #[test]
    fn handles_are_new_numbers_and_checked() {
        let rt = rquickjs::Runtime::new().expect("runtime");
        let ctx = rquickjs::Context::full(&rt).expect("context");
        ctx.with(|ctx| {
            let mut h = Handles::default();
            let a = h.insert("a").expect("room");
            let b = h.insert("b").expect("room");
            assert_ne!(a, b);
            let num = |n: f64| rquickjs::Value::new_number(ctx.clone(), n);
            assert_eq!(h.get(&num(a as f64)), Some(&"a"));
            for bad in [0.0, -1.0, 1.5, f64::NAN, 2f64.powi(60)] {
                assert_eq!(h.get(&num(bad)), None);
            }
            let text = rquickjs::String::from_str(ctx.clone(), "1").expect("string");
            assert_eq!(h.get(&text.into_value()), None);
            assert_eq!(h.remove(&num(b as f64)), Some((b, "b")));
            h.clear();
            assert_eq!(h.len(), 0);
            // A number is not given again, even after a clear.
            assert!(h.insert("c").expect("room") > b);
        });
    }
}
