//! The small Markdown subset of Defender's alert texts, rendered for each channel.
//!
//! Understood: `**bold**` and `__bold__`, `*italic*` and `_italic_` (an `_` inside a word, as in
//! `snake_case`, stays literal), `` `code` ``, `[text](url)`, `# heading` lines (rendered bold),
//! backslash escapes (`\*`) and line breaks. Anything else is text, escaped as the target needs.
//! An unclosed marker is literal text.
//!
//! | Markdown        | Slack mrkdwn  | Telegram MarkdownV2 | HTML                      | plain |
//! |-----------------|---------------|---------------------|---------------------------|-------|
//! | `**b**`         | `*b*`         | `*b*`               | `<strong>b</strong>`      | `b`   |
//! | `_i_`           | `_i_`         | `_i_`               | `<em>i</em>`              | `i`   |
//! | `` `c` ``       | `` `c` ``     | `` `c` ``           | `<code>c</code>`          | `c`   |
//! | `[t](u)`        | `<u\|t>`      | `[t](u)`            | `<a href="u">t</a>`       | `t (u)` |
//! | newline         | newline       | newline             | `<br>`                    | newline |
//!
//! ```
//! use defender_notify::markdown;
//! let md = "**Monitor** _ops_: [tx](https://x.io/tx?a=1&b=2) `0xab` 1.5!";
//! assert_eq!(markdown::to_slack(md), "*Monitor* _ops_: <https://x.io/tx?a=1&amp;b=2|tx> `0xab` 1.5!");
//! assert_eq!(markdown::to_telegram(md), r"*Monitor* _ops_: [tx](https://x.io/tx?a=1&b=2) `0xab` 1\.5\!");
//! assert_eq!(markdown::to_html(md),
//!     r#"<strong>Monitor</strong> <em>ops</em>: <a href="https://x.io/tx?a=1&amp;b=2">tx</a> <code>0xab</code> 1.5!"#);
//! assert_eq!(markdown::to_plain(md), "Monitor ops: tx (https://x.io/tx?a=1&b=2) 0xab 1.5!");
//! ```

/// One piece of inline Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    /// Plain text (unescaped).
    Text(String),
    /// Strong emphasis.
    Bold(Vec<Inline>),
    /// Emphasis.
    Italic(Vec<Inline>),
    /// Inline code (unescaped).
    Code(String),
    /// A link.
    Link {
        /// Its text.
        text: Vec<Inline>,
        /// Its target.
        url: String,
    },
    /// A line break.
    LineBreak,
}

/// Parses `text` into inline pieces.
pub fn parse(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let normalized = text.replace("\r\n", "\n");
    for (i, line) in normalized.split('\n').enumerate() {
        if i > 0 {
            out.push(Inline::LineBreak);
        }
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let inner = parse_inline(trimmed[hashes..].trim());
            out.push(Inline::Bold(inner));
        } else {
            out.extend(parse_inline(line));
        }
    }
    merge_text(out)
}

fn merge_text(items: Vec<Inline>) -> Vec<Inline> {
    let mut out: Vec<Inline> = Vec::with_capacity(items.len());
    for item in items {
        match (out.last_mut(), item) {
            (Some(Inline::Text(a)), Inline::Text(b)) => a.push_str(&b),
            (_, item) => out.push(item),
        }
    }
    out
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric())
}

fn parse_inline(s: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let flush = |text: &mut String, out: &mut Vec<Inline>| {
        if !text.is_empty() {
            out.push(Inline::Text(std::mem::take(text)));
        }
    };
    while i < s.len() {
        let rest = &s[i..];
        let prev = s[..i].chars().next_back();
        let Some(c) = rest.chars().next() else { break };
        // Backslash escape of ASCII punctuation.
        if c == '\\' {
            if let Some(n) = rest[1..].chars().next() {
                if n.is_ascii_punctuation() {
                    text.push(n);
                    i += 1 + n.len_utf8();
                    continue;
                }
            }
        }
        if c == '`' {
            if let Some(end) = rest[1..].find('`') {
                flush(&mut text, &mut out);
                out.push(Inline::Code(rest[1..1 + end].to_owned()));
                i += end + 2;
                continue;
            }
        }
        if rest.starts_with("**") || rest.starts_with("__") {
            let marker = &rest[..2];
            if let Some(end) = find_closing(&rest[2..], marker) {
                if end > 0 {
                    flush(&mut text, &mut out);
                    out.push(Inline::Bold(parse_inline(&rest[2..2 + end])));
                    i += end + 4;
                    continue;
                }
            }
        }
        if (c == '*' || c == '_') && !(c == '_' && is_word(prev)) {
            let marker = &rest[..1];
            let after = rest[1..].chars().next();
            if after.is_some_and(|a| !a.is_whitespace()) {
                if let Some(end) = find_closing(&rest[1..], marker) {
                    let following = rest[1 + end + 1..].chars().next();
                    let closes = end > 0 && !(c == '_' && is_word(following));
                    if closes {
                        flush(&mut text, &mut out);
                        out.push(Inline::Italic(parse_inline(&rest[1..1 + end])));
                        i += end + 2;
                        continue;
                    }
                }
            }
        }
        if c == '[' {
            if let Some(close) = find_closing(&rest[1..], "]") {
                let after = &rest[1 + close + 1..];
                if after.starts_with('(') {
                    if let Some(url_end) = after.find(')') {
                        flush(&mut text, &mut out);
                        out.push(Inline::Link {
                            text: parse_inline(&rest[1..1 + close]),
                            url: after[1..url_end].trim().to_owned(),
                        });
                        i += 1 + close + 1 + url_end + 1;
                        continue;
                    }
                }
            }
        }
        text.push(c);
        i += c.len_utf8();
    }
    flush(&mut text, &mut out);
    out
}

/// Finds `marker` in `s`, skipping backslash escapes.
fn find_closing(s: &str, marker: &str) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(escaped) = rest.strip_prefix('\\') {
            i += 1 + escaped.chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if rest.starts_with(marker) {
            // For a single `*`, do not stop on the first half of a `**`.
            if marker.len() == 1 && rest[1..].starts_with(marker) {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Markdown to Slack `mrkdwn` (with `&`, `<` and `>` escaped).
pub fn to_slack(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    slack(&parse(md), &mut out);
    out
}

fn slack_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn slack(items: &[Inline], out: &mut String) {
    for item in items {
        match item {
            Inline::Text(t) => slack_escape(t, out),
            Inline::Bold(inner) => {
                out.push('*');
                slack(inner, out);
                out.push('*');
            }
            Inline::Italic(inner) => {
                out.push('_');
                slack(inner, out);
                out.push('_');
            }
            Inline::Code(c) => {
                out.push('`');
                slack_escape(c, out);
                out.push('`');
            }
            Inline::Link { text, url } => {
                out.push('<');
                slack_escape(url, out);
                out.push('|');
                let mut label = String::new();
                slack(text, &mut label);
                out.push_str(&label.replace('|', "∣"));
                out.push('>');
            }
            Inline::LineBreak => out.push('\n'),
        }
    }
}

/// The characters Telegram's MarkdownV2 wants escaped in text.
const TELEGRAM_SPECIAL: &str = "_*[]()~`>#+-=|{}.!\\";

/// Escapes text for Telegram MarkdownV2 (every special character gets a backslash).
pub fn telegram_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if TELEGRAM_SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Markdown to Telegram MarkdownV2, escaped as Telegram requires.
pub fn to_telegram(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + 16);
    telegram(&parse(md), &mut out);
    out
}

fn telegram(items: &[Inline], out: &mut String) {
    for item in items {
        match item {
            Inline::Text(t) => out.push_str(&telegram_escape(t)),
            Inline::Bold(inner) => {
                out.push('*');
                telegram(inner, out);
                out.push('*');
            }
            Inline::Italic(inner) => {
                out.push('_');
                telegram(inner, out);
                out.push('_');
            }
            Inline::Code(c) => {
                out.push('`');
                for ch in c.chars() {
                    if ch == '`' || ch == '\\' {
                        out.push('\\');
                    }
                    out.push(ch);
                }
                out.push('`');
            }
            Inline::Link { text, url } => {
                out.push('[');
                telegram(text, out);
                out.push_str("](");
                for ch in url.chars() {
                    if ch == ')' || ch == '\\' {
                        out.push('\\');
                    }
                    out.push(ch);
                }
                out.push(')');
            }
            Inline::LineBreak => out.push('\n'),
        }
    }
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown to an HTML fragment (line breaks as `<br>`).
pub fn to_html(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + 32);
    html(&parse(md), &mut out);
    out
}

fn html(items: &[Inline], out: &mut String) {
    for item in items {
        match item {
            Inline::Text(t) => out.push_str(&html_escape(t)),
            Inline::Bold(inner) => {
                out.push_str("<strong>");
                html(inner, out);
                out.push_str("</strong>");
            }
            Inline::Italic(inner) => {
                out.push_str("<em>");
                html(inner, out);
                out.push_str("</em>");
            }
            Inline::Code(c) => {
                out.push_str("<code>");
                out.push_str(&html_escape(c));
                out.push_str("</code>");
            }
            Inline::Link { text, url } => {
                let safe = url.starts_with("http://")
                    || url.starts_with("https://")
                    || url.starts_with("mailto:");
                if safe {
                    out.push_str("<a href=\"");
                    out.push_str(&html_escape(url));
                    out.push_str("\">");
                    html(text, out);
                    out.push_str("</a>");
                } else {
                    html(text, out);
                }
            }
            Inline::LineBreak => out.push_str("<br>\n"),
        }
    }
}

/// Markdown to plain text: markers dropped, links as `text (url)`.
pub fn to_plain(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    plain(&parse(md), &mut out);
    out
}

fn plain(items: &[Inline], out: &mut String) {
    for item in items {
        match item {
            Inline::Text(t) | Inline::Code(t) => out.push_str(t),
            Inline::Bold(inner) | Inline::Italic(inner) => plain(inner, out),
            Inline::Link { text, url } => {
                let mut label = String::new();
                plain(text, &mut label);
                if label == *url || label.is_empty() {
                    out.push_str(url);
                } else {
                    out.push_str(&label);
                    out.push_str(" (");
                    out.push_str(url);
                    out.push(')');
                }
            }
            Inline::LineBreak => out.push('\n'),
        }
    }
}

/// Whether `body` already is HTML (Defender's actions may send basic HTML to email channels):
/// it holds a tag such as `<p>`, `<br>`, `<h1>`, `<b>`, `<i>`, `<a `, `<div>`, `<table>`...
pub fn looks_like_html(body: &str) -> bool {
    const TAGS: &[&str] = &[
        "<p>", "<p ", "<br", "<h1", "<h2", "<h3", "<h4", "<b>", "<i>", "<a ", "<div", "<table",
        "<ul", "<ol", "<strong", "<em>", "<html", "<span", "<pre", "<code>",
    ];
    let lower = body.to_ascii_lowercase();
    TAGS.iter().any(|t| lower.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_unclosed_markers() {
        assert_eq!(
            parse("**a _b_** c* d"),
            vec![
                Inline::Bold(vec![
                    Inline::Text("a ".into()),
                    Inline::Italic(vec![Inline::Text("b".into())])
                ]),
                Inline::Text(" c* d".into()),
            ]
        );
        assert_eq!(
            parse("snake_case_name"),
            vec![Inline::Text("snake_case_name".into())]
        );
        assert_eq!(parse("2 * 3 * 4"), vec![Inline::Text("2 * 3 * 4".into())]);
        assert_eq!(parse(r"\*not\*"), vec![Inline::Text("*not*".into())]);
        assert_eq!(parse("[x](y"), vec![Inline::Text("[x](y".into())]);
    }

    #[test]
    fn headings_become_bold_and_lines_break() {
        assert_eq!(to_slack("# Title\nline"), "*Title*\nline");
        assert_eq!(
            to_html("# Title\r\nline"),
            "<strong>Title</strong><br>\nline"
        );
        assert_eq!(to_telegram("#hash"), r"\#hash");
    }

    #[test]
    fn telegram_escapes_every_special_character() {
        assert_eq!(
            to_telegram("a_b-c.d!e(f)g[h]i{j}k=l|m~n>o+p#q\\"),
            r"a\_b\-c\.d\!e\(f\)g\[h\]i\{j\}k\=l\|m\~n\>o\+p\#q\\"
        );
        assert_eq!(to_telegram("`a\\b`"), "`a\\\\b`");
        assert_eq!(
            to_telegram("[t.x](https://a.b/c_(d))"),
            r"[t\.x](https://a.b/c_(d)\)"
        );
    }

    #[test]
    fn html_escapes_text_and_drops_unsafe_links() {
        assert_eq!(to_html("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(to_html("[x](javascript:alert(1))"), "x)");
        assert!(looks_like_html("<h1>Hi</h1><p>x</p>"));
        assert!(!looks_like_html("a < b and c > d"));
    }

    #[test]
    fn slack_escapes_angle_brackets_and_links() {
        assert_eq!(
            to_slack("a<b> & [l|x](https://u)"),
            "a&lt;b&gt; &amp; <https://u|l∣x>"
        );
    }
}
