//! A formatted string with the spans of ICU4X's parts, for `formatToParts`.

use std::fmt;
use writeable::{Part, PartsWrite, Writeable};

/// The text of a formatted value and the parts ICU4X annotated in it, innermost last.
#[derive(Default, Debug)]
pub(super) struct Recorded {
    pub(super) text: String,
    /// `(start, end, part)` byte spans of `text`, in the order their annotation ended.
    pub(super) spans: Vec<(usize, usize, Part)>,
}

impl Recorded {
    /// Formats `w`, recording its parts.
    pub(super) fn of(w: &impl Writeable) -> Recorded {
        let mut r = Recorded::default();
        // Writing to a String cannot fail.
        let _ = w.write_to_parts(&mut r);
        r
    }

    /// The innermost part at byte `at` that `kind` names, named.
    fn kind_at(
        &self,
        at: usize,
        kind: &impl Fn(Part) -> Option<&'static str>,
    ) -> Option<&'static str> {
        // Inner annotations end first, so the first span holding `at` is the innermost.
        self.spans
            .iter()
            .filter(|(s, e, _)| *s <= at && at < *e)
            .find_map(|&(_, _, p)| kind(p))
    }

    /// Consecutive runs of text under the same part, as `kind` names parts (`None` for text
    /// under no part it names).
    pub(super) fn runs(
        &self,
        kind: impl Fn(Part) -> Option<&'static str>,
    ) -> Vec<(Option<&'static str>, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut current = None;
        for (i, _) in self.text.char_indices() {
            let k = self.kind_at(i, &kind);
            if i > start && k != current {
                out.push((current, &self.text[start..i]));
                start = i;
            }
            current = k;
        }
        if start < self.text.len() {
            out.push((current, &self.text[start..]));
        }
        out
    }
}

impl fmt::Write for Recorded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

impl PartsWrite for Recorded {
    type SubPartsWrite = Recorded;

    fn with_part(
        &mut self,
        part: Part,
        mut f: impl FnMut(&mut Self::SubPartsWrite) -> fmt::Result,
    ) -> fmt::Result {
        let start = self.text.len();
        f(self)?;
        let end = self.text.len();
        self.spans.push((start, end, part));
        Ok(())
    }
}

/// The kind of a piece of formatted text, as `formatToParts` names it.
pub(super) type PartList = Vec<(&'static str, String)>;

/// Concatenated text of parts.
pub(super) fn joined(parts: &PartList) -> String {
    parts.iter().map(|(_, t)| t.as_str()).collect()
}
