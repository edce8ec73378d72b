//! The quiz tables of Debian's `bsdgames` package (`/usr/share/games/bsdgames/quiz`), phrased
//! through question and answer templates.
//!
//! A table line holds colon-separated fields; each field is a pattern in quiz(6)'s syntax:
//! `a|b` alternatives, `{pat}` an optional part, `[pat]` a group (`pat[pat|pat]pat`), `\` quotes
//! the next character, and a `\` at the end of a line continues it on the next. So
//! `{G{eorge} }Washington` accepts "George Washington", "G Washington" and "Washington";
//! `Yaound['e|e'|e]` spells an accent three ways. [`QuizPattern::display`] is the fullest plain
//! spelling (optional parts in, accent spellings out: "George Washington", "Yaounde"), used in
//! questions and answers; [`QuizPattern::expansions`] are all spellings, used by the checker.

use super::chatterbot::Fetched;
use super::{capitalize, pick, rng_for, HoldOut, QaItem};
use crate::error::{Error, Result};
use crate::tokenizer::Message;
use crate::train::checkers::{normalize, Check, CheckKind};
use crate::train::data_file::{data_files, parsed};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Downloads Debian's bsdgames package with apt-get into `cache_dir/bsdgames` and extracts it
/// with dpkg-deb (`extracted/`); returns its quiz directory. A second call reuses what is there.
pub fn fetch_bsdgames(cache_dir: &Path) -> Result<Fetched> {
    let dir = cache_dir.join("bsdgames");
    let (extracted, version) =
        crate::train::fetch::debian_package("bsdgames", &dir, &dir.join("extracted"))?;
    let quiz = extracted.join("usr/share/games/bsdgames/quiz");
    if !quiz.is_dir() {
        return Err(Error::Other(format!(
            "{}: the bsdgames package has no usr/share/games/bsdgames/quiz directory",
            extracted.display()
        )));
    }
    Ok(Fetched { dir: quiz, version })
}

// ---------------------------------------------------------------------------------------------
// Patterns

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Lit(String),
    Opt(Alt),
    Group(Alt),
}

/// Alternatives, each a sequence of nodes.
#[derive(Clone, Debug, PartialEq)]
struct Alt(Vec<Vec<Node>>);

/// One field of a quiz table line.
#[derive(Clone, Debug, PartialEq)]
pub struct QuizPattern {
    alt: Alt,
    source: String,
}

/// The most spellings one pattern may expand to (the largest real one has 45).
const MAX_EXPANSIONS: usize = 512;

impl QuizPattern {
    /// Parses a field; the error says what is unbalanced.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0;
        let alt = parse_alt(&chars, &mut pos, None)?;
        if pos != chars.len() {
            return Err(format!("unexpected {:?} at column {}", chars[pos], pos + 1));
        }
        Ok(QuizPattern {
            alt,
            source: text.to_string(),
        })
    }
    /// The field as written in the table.
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn is_empty(&self) -> bool {
        self.display().is_empty()
    }
    /// The fullest plain spelling: optional parts included, first alternative that is not an
    /// accent spelling.
    pub fn display(&self) -> String {
        tidy(&display_alt(&self.alt))
    }
    /// Every spelling the pattern accepts (accent spellings left out: the checker folds accents),
    /// de-duplicated by their normalised form, the display form first.
    pub fn expansions(&self) -> Vec<String> {
        let mut out = vec![self.display()];
        let mut seen: BTreeSet<String> = out.iter().map(|s| normalize(s)).collect();
        for e in expand_alt(&self.alt) {
            let e = tidy(&e);
            if !e.is_empty() && seen.insert(normalize(&e)) {
                out.push(e);
            }
        }
        out
    }
    /// The top-level alternatives as patterns of their own ("lion|tiger|bear" → three).
    pub fn alternatives(&self) -> Vec<QuizPattern> {
        self.alt
            .0
            .iter()
            .map(|seq| QuizPattern {
                alt: Alt(vec![seq.clone()]),
                source: self.source.clone(),
            })
            .collect()
    }
}

/// Collapses whitespace; a stray overstrike (`x<BS>`) that was not an alternative loses its
/// first character.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\u{8}' {
            out.pop();
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_alt(
    chars: &[char],
    pos: &mut usize,
    close: Option<char>,
) -> std::result::Result<Alt, String> {
    let mut alts = vec![Vec::new()];
    let mut lit = String::new();
    fn flush(lit: &mut String, seq: &mut Vec<Node>) {
        if !lit.is_empty() {
            seq.push(Node::Lit(std::mem::take(lit)));
        }
    }
    while *pos < chars.len() {
        let c = chars[*pos];
        *pos += 1;
        match c {
            '\\' => {
                if let Some(&n) = chars.get(*pos) {
                    lit.push(n);
                    *pos += 1;
                }
            }
            '|' => {
                flush(&mut lit, alts.last_mut().unwrap());
                alts.push(Vec::new());
            }
            '{' | '[' => {
                flush(&mut lit, alts.last_mut().unwrap());
                let closing = if c == '{' { '}' } else { ']' };
                let inner = parse_alt(chars, pos, Some(closing))?;
                alts.last_mut().unwrap().push(if c == '{' {
                    Node::Opt(inner)
                } else {
                    Node::Group(inner)
                });
            }
            '}' | ']' => {
                if Some(c) == close {
                    flush(&mut lit, alts.last_mut().unwrap());
                    return Ok(Alt(alts));
                }
                return Err(format!("unmatched {c:?} at column {}", *pos));
            }
            _ => lit.push(c),
        }
    }
    if let Some(c) = close {
        return Err(format!("missing {c:?}"));
    }
    flush(&mut lit, alts.last_mut().unwrap());
    Ok(Alt(alts))
}

fn lit_text(seq: &[Node]) -> Option<String> {
    let mut s = String::new();
    for n in seq {
        match n {
            Node::Lit(l) => s.push_str(l),
            _ => return None,
        }
    }
    Some(s)
}

/// `'e`, `e'`, `^o`, `"u`, `~n`, and the overstrikes `'<BS>e`, `,<BS>s`: quiz's ASCII spellings
/// of accented letters (the tables write "Chi[,<BS>s|s<BS>,|s]inau" for Chişinău).
fn is_accent_spelling(seq: &[Node]) -> bool {
    lit_text(seq).is_some_and(|s| {
        s.contains('\u{8}')
            || (s.chars().count() <= 3
                && s.chars().any(|c| matches!(c, '\'' | '^' | '`' | '~' | '"')))
    })
}

/// The alternatives to use: accent spellings only when there is nothing else.
fn plain_alternatives(alt: &Alt) -> Vec<&Vec<Node>> {
    let plain: Vec<&Vec<Node>> = alt.0.iter().filter(|s| !is_accent_spelling(s)).collect();
    if plain.is_empty() {
        alt.0.iter().collect()
    } else {
        plain
    }
}

fn display_alt(alt: &Alt) -> String {
    let seq = plain_alternatives(alt)[0];
    seq.iter()
        .map(|n| match n {
            Node::Lit(l) => l.clone(),
            Node::Opt(a) | Node::Group(a) => display_alt(a),
        })
        .collect()
}

fn expand_alt(alt: &Alt) -> Vec<String> {
    let mut out = Vec::new();
    for seq in plain_alternatives(alt) {
        let mut partial = vec![String::new()];
        for node in seq {
            let options: Vec<String> = match node {
                Node::Lit(l) => vec![l.clone()],
                Node::Group(a) => expand_alt(a),
                Node::Opt(a) => {
                    let mut o = expand_alt(a);
                    o.push(String::new());
                    o
                }
            };
            let mut next = Vec::with_capacity(partial.len() * options.len());
            'outer: for p in &partial {
                for o in &options {
                    if next.len() >= MAX_EXPANSIONS {
                        break 'outer;
                    }
                    next.push(format!("{p}{o}"));
                }
            }
            partial = next;
        }
        out.extend(partial);
        if out.len() >= MAX_EXPANSIONS {
            out.truncate(MAX_EXPANSIONS);
            break;
        }
    }
    out
}

/// One parsed table line: its line number (of its first physical line) and its fields.
pub type QuizRow = (usize, Vec<QuizPattern>);

/// Parses a quiz data file; `path` names the file in errors (file:line).
pub fn parse_quiz_table(path: &Path, text: &str) -> Result<Vec<QuizRow>> {
    let mut rows = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        let ends_escaped = raw.ends_with('\\') && !raw.ends_with("\\\\");
        if ends_escaped {
            logical.push_str(&raw[..raw.len() - 1]);
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        for field in split_fields(&line) {
            let p = QuizPattern::parse(&field).map_err(|e| {
                super::line_error(path, start, format!("bad quiz pattern {field:?}: {e}"))
            })?;
            fields.push(p);
        }
        rows.push((start, fields));
    }
    Ok(rows)
}

/// Splits on ':' that are not quoted with '\' (the quote stays for the pattern parser).
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let f = fields.last_mut().unwrap();
                f.push('\\');
                if let Some(n) = chars.next() {
                    f.push(n);
                }
            }
            ':' => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

// ---------------------------------------------------------------------------------------------
// Relations: which column asks, which answers, and how to say it

/// A question a table can answer. Placeholders: `{x}` the subject, `{y}` the answer, `{ax}` /
/// `{ay}` the same with "a"/"an" in front. The last question template is held out for evaluation.
/// The relations are `data/sft_tables/quiz_relations.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Relation {
    id: String,
    /// The tables (files of the quiz directory) it reads.
    files: Vec<String>,
    /// Column asked about, column answered, column naming the entity held out.
    subject: usize,
    answer: usize,
    entity: usize,
    /// Each top-level alternative of the subject is its own entity ("lion|tiger|bear:cub").
    split_subject: bool,
    /// The answer names an entity of the same kind (a successor): held out with it.
    chain: bool,
    kind: CheckKind,
    questions: Vec<String>,
    answers: Vec<String>,
}

const RELATIONS_PATH: &str = "data/sft_tables/quiz_relations.json";

static RELATIONS: LazyLock<Vec<Relation>> = LazyLock::new(|| {
    let json = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/sft_tables/quiz_relations.json"
    ));
    parsed(
        serde_json::from_str::<Vec<Relation>>(json)
            .map_err(|e| format!("{RELATIONS_PATH}: {e}"))
            .and_then(|rels| {
                match rels
                    .iter()
                    .find(|r| r.files.is_empty() || r.questions.len() < 2 || r.answers.is_empty())
                {
                    Some(r) => Err(format!(
                        "{RELATIONS_PATH}: relation {:?} needs files, two questions or more (the \
                         last is held out) and answers",
                        r.id
                    )),
                    None => Ok(rels),
                }
            }),
    )
});

/// The held-out question templates, as "quiz/relation#k: text".
pub fn held_out_templates() -> Vec<String> {
    RELATIONS
        .iter()
        .map(|r| {
            let k = r.questions.len() - 1;
            format!("quiz/{}#{k}: {}", r.id, r.questions[k])
        })
        .collect()
}

fn with_article(word: &str) -> String {
    let starts_vowel = word
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {word}", if starts_vowel { "an" } else { "a" })
}

fn fill(template: &str, x: &str, y: &str) -> String {
    let s = template
        .replace("{ax}", &with_article(x))
        .replace("{ay}", &with_article(y))
        .replace("{x}", x)
        .replace("{y}", y);
    capitalize(&s)
}

fn terse(y: &str) -> String {
    let y = capitalize(y);
    if y.ends_with('.') {
        y
    } else {
        format!("{y}.")
    }
}

/// One fact: a subject, its answer pattern, and the entities it involves.
struct Fact {
    x: String,
    answer: QuizPattern,
    entities: Vec<String>,
}

/// Every relation's question, in every template, for every row of the tables in `dir`. The
/// plausible-but-wrong answer is another row's answer, taken from the training side when the item
/// itself trains (so no held-out entity leaks into training as a wrong answer).
pub fn quiz_items(dir: &Path, seed: u64) -> Result<Vec<QaItem>> {
    let hold = HoldOut::new(seed);
    let mut tables: BTreeMap<&str, Vec<QuizRow>> = BTreeMap::new();
    for rel in RELATIONS.iter() {
        for file in &rel.files {
            let file = file.as_str();
            if !tables.contains_key(file) {
                let path: PathBuf = dir.join(file);
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                tables.insert(file, parse_quiz_table(&path, &text)?);
            }
        }
    }
    let mut items = Vec::new();
    for rel in RELATIONS.iter() {
        let facts = relation_facts(rel, &tables);
        let mut rng = rng_for(seed, &format!("quiz/{}", rel.id));
        for (fi, fact) in facts.iter().enumerate() {
            let held = fact.entities.iter().any(|e| hold.entity(e));
            let accepted: BTreeSet<String> = fact
                .answer
                .expansions()
                .iter()
                .map(|a| normalize(a))
                .collect();
            // wrong-answer candidates: other facts' answers, training side only if this trains
            let candidates: Vec<&Fact> = facts
                .iter()
                .enumerate()
                .filter(|&(k, f)| {
                    k != fi
                        && !accepted.contains(&normalize(&f.answer.display()))
                        && normalize(&f.answer.display()) != normalize(&fact.x)
                        && (held || !f.entities.iter().any(|e| hold.entity(e)))
                })
                .map(|(_, f)| f)
                .collect();
            let y = fact.answer.display();
            let check = Check {
                kind: rel.kind,
                answers: fact.answer.expansions(),
            };
            for (k, q) in rel.questions.iter().enumerate() {
                let a = &rel.answers[pick(&mut rng, rel.answers.len())];
                let wrong = (!candidates.is_empty()).then(|| {
                    let w = candidates[pick(&mut rng, candidates.len())]
                        .answer
                        .display();
                    fill(a, &fact.x, &w)
                });
                items.push(QaItem {
                    source: format!("quiz/{}", rel.id),
                    template: format!("quiz/{}#{k}", rel.id),
                    template_held_out: k + 1 == rel.questions.len(),
                    entities: fact.entities.clone(),
                    messages: vec![
                        Message::user(&fill(q, &fact.x, &y)),
                        Message::assistant(&fill(a, &fact.x, &y)),
                    ],
                    terse: Some(terse(&y)),
                    wrong,
                    check: Some(check.clone()),
                });
            }
        }
    }
    Ok(items)
}

fn relation_facts(rel: &Relation, tables: &BTreeMap<&str, Vec<QuizRow>>) -> Vec<Fact> {
    let mut facts = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &rel.files {
        for (_, row) in &tables[file.as_str()] {
            let (Some(subject), Some(answer), Some(entity)) = (
                row.get(rel.subject),
                row.get(rel.answer),
                row.get(rel.entity),
            ) else {
                continue;
            };
            if answer.is_empty() || subject.is_empty() || entity.is_empty() {
                continue;
            }
            let subjects = if rel.split_subject {
                subject.alternatives()
            } else {
                vec![subject.clone()]
            };
            for s in subjects {
                let x = s.display();
                // one-letter subjects make poor questions ("Y|y:X|x" in sexes), except the
                // element symbols that element_name asks about
                if x.is_empty() || (x.chars().count() < 2 && rel.id != "element_name") {
                    continue;
                }
                if !seen.insert(normalize(&x)) {
                    continue; // Armenia is in the Asian and the European table
                }
                let key = if rel.entity == rel.subject {
                    x.clone()
                } else {
                    entity.display()
                };
                let mut entities = vec![key];
                if rel.chain {
                    entities.push(answer.display());
                }
                facts.push(Fact {
                    x,
                    answer: answer.clone(),
                    entities,
                });
            }
        }
    }
    facts
}

/// A few lines of each table the relations read, for tests and offline builds
/// (`data/sft_tables/quiz_sample/<table>.txt`).
pub const SAMPLE_TABLES: &[(&str, &str)] = data_files!("sft_tables/quiz_sample", "txt":
    "africa", "america", "asia", "europe", "province", "state", "elements", "pres",
    "collectives", "babies", "sexes", "posneg", "latin", "sov", "chinese",
);
