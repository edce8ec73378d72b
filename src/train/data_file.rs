//! The text format of the hand-written tables the data generators read (`data/moderation_pools/`,
//! `data/sft_tables/`). The files are compiled in with `include_str!` ([`data_files!`]), so a
//! binary needs nothing at run time, and parsed on first use; errors name the file and line.
//!
//! UTF-8, one entry per line:
//! - a line starting with `#` is a comment, and blank lines are skipped;
//! - a line starting with `@` is a directive, `@name value`, a setting for the entries after it
//!   (`@labels hate`, `@task add`);
//! - a line starting with `"` is a JSON string, for an entry that is empty, has leading or
//!   trailing spaces (`"hey, "`) or starts with `#`, `@` or `"`;
//! - any other line is the entry exactly as written (leading or trailing spaces are an error:
//!   editors drop them unseen).

/// `(name, text)` of the file `data/<dir>/<name>.<ext>` for each name, in the order given:
/// `data_files!("moderation_pools/pools", "txt": "insult_you", "gore")`.
macro_rules! data_files {
    ($dir:literal, $ext:literal: $($name:literal),* $(,)?) => {
        &[$((
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"), "/data/", $dir, "/", $name, ".", $ext
            )),
        )),*]
    };
}
pub(crate) use data_files;

/// One meaningful line of a data file.
pub(crate) enum Line<'a> {
    Entry(String),
    /// `@name value`.
    Directive(&'a str, &'a str),
}

/// `path:line: msg`, the form of every error here.
pub(crate) fn at(path: &str, line: usize, msg: impl std::fmt::Display) -> String {
    format!("{path}:{line}: {msg}")
}

/// The entries and directives of a data file (`path` names it in errors), with their line
/// numbers.
pub(crate) fn lines<'a>(path: &str, text: &'a str) -> Result<Vec<(usize, Line<'a>)>, String> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let line = if let Some(d) = l.strip_prefix('@') {
            let (name, value) = d.split_once(' ').unwrap_or((d, ""));
            Line::Directive(name, value.trim())
        } else if l.starts_with('"') {
            let s: String = serde_json::from_str(l).map_err(|e| {
                at(
                    path,
                    i + 1,
                    format!("{e}; a line that starts with '\"' is a JSON string"),
                )
            })?;
            Line::Entry(s)
        } else if l != l.trim() {
            return Err(at(
                path,
                i + 1,
                format!(
                    "{l:?} has leading or trailing spaces; write such an entry as a JSON string \
                     (\"hey, \")"
                ),
            ));
        } else {
            Line::Entry(l.to_string())
        };
        out.push((i + 1, line));
    }
    Ok(out)
}

/// A file of entries only.
pub(crate) fn entries(path: &str, text: &str) -> Result<Vec<String>, String> {
    lines(path, text)?
        .into_iter()
        .map(|(no, l)| match l {
            Line::Entry(s) => Ok(s),
            Line::Directive(d, _) => Err(at(
                path,
                no,
                format!("unexpected directive @{d}; this file holds entries only"),
            )),
        })
        .collect()
}

/// A file of sections, each headed by `@<directive> <name>`: the names and their entries, in
/// order.
pub(crate) fn sections(
    path: &str,
    text: &str,
    directive: &str,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (no, l) in lines(path, text)? {
        match (l, out.last_mut()) {
            (Line::Directive(d, name), _) if d == directive && !name.is_empty() => {
                out.push((name.to_string(), Vec::new()))
            }
            (Line::Directive(d, _), _) => {
                return Err(at(
                    path,
                    no,
                    format!("unexpected @{d}; sections start with `@{directive} <name>`"),
                ))
            }
            (Line::Entry(_), None) => {
                return Err(at(
                    path,
                    no,
                    format!("an entry before the first `@{directive} <name>` line"),
                ))
            }
            (Line::Entry(e), Some((_, entries))) => entries.push(e),
        }
    }
    Ok(out)
}

/// The parsed value, or a panic that names the malformed built-in file and line: the files are
/// compiled in, so a malformed one is a broken build (and `cargo test` parses each).
pub(crate) fn parsed<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("malformed built-in data file {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `r` failed with a message starting `want`.
    fn fails<T: std::fmt::Debug>(r: Result<T, String>, want: &str) {
        let e = r.unwrap_err();
        assert!(e.starts_with(want), "{e:?} should start with {want:?}");
    }

    #[test]
    fn entries_comments_quotes_and_errors() {
        assert_eq!(
            entries("x.txt", "# c\n\n\"\"\n\" lol\"\nplain text\n\"#x\"\n").unwrap(),
            ["", " lol", "plain text", "#x"]
        );
        for (text, want) in [
            ("# c\nok\n \"bad", "x.txt:3: "),
            ("a\nb \n", "x.txt:2: \"b \" has leading or trailing"),
            ("\"unclosed\n", "x.txt:1: "),
            ("@labels hate\n", "x.txt:1: unexpected directive @labels"),
        ] {
            fails(entries("x.txt", text), want);
        }
    }

    #[test]
    fn sections_in_order() {
        let s = sections("s.txt", "# c\n@task b\none\ntwo\n@task a\nthree\n", "task").unwrap();
        assert_eq!(
            s,
            [
                ("b".to_string(), vec!["one".to_string(), "two".into()]),
                ("a".to_string(), vec!["three".to_string()])
            ]
        );
        for (text, want) in [
            ("one\n", "s.txt:1: an entry before the first `@task <name>`"),
            ("@task a\n@kind b\n", "s.txt:2: unexpected @kind"),
            ("@task\n", "s.txt:1: unexpected @task"),
        ] {
            fails(sections("s.txt", text, "task"), want);
        }
    }
}
