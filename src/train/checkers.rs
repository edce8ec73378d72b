//! Exact answer checkers: did a free-form reply give the expected answer?
//!
//! The evaluation (`tinychat eval`), the rankings of the model's own samples and PPO's
//! checkable prompts all ask the same question of a reply: is "The capital of France is Paris."
//! the answer "Paris"? Is "forty-two" the number 42? A [`Check`] travels with each checkable
//! prompt in the data files (`{"kind": "exact", "answers": ["Paris"]}`) and [`check`] answers it.
//!
//! Both sides are first normalised the same way ([`normalize`]): lower case, accents folded,
//! apostrophes dropped ("St. John's" → "st johns"), other punctuation to spaces, number words to
//! digits ("twenty-one" → "21", "1,000" → "1000"), ordinal suffixes dropped ("13th" → "13").
//! Then the three kinds differ in how much of the reply may surround the answer:
//!
//! - `exact`: the reply *is* the answer, or states it in one of the ways an answer is stated —
//!   the whole reply or its first clause equals it ("Paris.", "Yes, 7 is larger."), the reply ends
//!   with it ("The capital of France is Paris.", but not "…is not Paris"), or a clause of the
//!   first sentence opens with it followed by a verb ("Paris is the capital of France.", "After
//!   Washington, John Adams became president.").
//! - `number`: the last number of the reply's first sentence equals an answer ("3 + 4 = 7.",
//!   "The answer is seven."); numbers compare as values, so "7.0" is 7.
//! - `contains_any`: an answer occurs anywhere in the reply as whole words, not negated.
//!
//! A reply that names two candidates ("Paris or Lyon") fails `exact`: hedging is not answering.

use serde::{Deserialize, Serialize};

/// How a reply is compared with the expected answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Exact,
    Number,
    ContainsAny,
}

/// The expected answers of a checkable prompt; any one of them is right.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub kind: CheckKind,
    pub answers: Vec<String>,
}

impl Check {
    pub fn exact<S: AsRef<str>>(answers: &[S]) -> Self {
        Self::new(CheckKind::Exact, answers)
    }
    pub fn number<S: AsRef<str>>(answers: &[S]) -> Self {
        Self::new(CheckKind::Number, answers)
    }
    pub fn contains_any<S: AsRef<str>>(answers: &[S]) -> Self {
        Self::new(CheckKind::ContainsAny, answers)
    }
    fn new<S: AsRef<str>>(kind: CheckKind, answers: &[S]) -> Self {
        Check {
            kind,
            answers: answers.iter().map(|a| a.as_ref().to_string()).collect(),
        }
    }
}

/// Does `answer` give one of `check`'s answers? See the module docs for the rules.
pub fn check(answer: &str, check: &Check) -> bool {
    match check.kind {
        CheckKind::Exact => check.answers.iter().any(|a| exact_match(answer, a)),
        CheckKind::Number => {
            let Some(got) = answer_number(answer) else {
                return false;
            };
            check
                .answers
                .iter()
                .filter_map(|a| parse_number(&normalize(a)))
                .any(|want| numbers_equal(got, want))
        }
        CheckKind::ContainsAny => {
            let reply = tokens(answer);
            check.answers.iter().any(|a| {
                let want = tokens(a);
                !want.is_empty() && find_unnegated(&reply, &want)
            })
        }
    }
}

/// Verbs that may follow an answer that opens a sentence: "Paris is the capital of France."
const OPENING_VERBS: &[&str] = &[
    "is",
    "was",
    "are",
    "were",
    "has",
    "had",
    "comes",
    "came",
    "follows",
    "followed",
    "means",
    "succeeded",
    "became",
    "took",
    "reigned",
];
/// Words that turn a trailing answer into its denial: "… is not Paris".
const NEGATIONS: &[&str] = &[
    "not", "never", "isnt", "wasnt", "arent", "no", "nor", "doesnt", "dont", "didnt",
];

fn exact_match(answer: &str, expected: &str) -> bool {
    let want = strip_article(tokens(expected));
    if want.is_empty() {
        return false;
    }
    let whole = strip_article(tokens(answer));
    if whole == want {
        return true;
    }
    let first = strip_article(tokens(first_clause(answer)));
    if first == want {
        return true;
    }
    // "The capital of France is Paris."
    if whole.len() > want.len()
        && whole.ends_with(&want)
        && !negated_at(&whole, whole.len() - want.len())
    {
        return true;
    }
    // "Paris is the capital of France.", "After Washington, John Adams became president."
    // (a clause starts the sentence or follows , ; : — and the answer itself may hold a comma:
    // "James Earl Carter, Junior became president")
    let sentence = first_sentence(answer);
    let starts = std::iter::once(0).chain(
        sentence
            .char_indices()
            .filter(|&(_, c)| matches!(c, ',' | ';' | ':'))
            .map(|(i, c)| i + c.len_utf8()),
    );
    for start in starts {
        let c = strip_article(tokens(&sentence[start..]));
        if c.len() > want.len()
            && c.starts_with(&want)
            && OPENING_VERBS.contains(&c[want.len()].as_str())
        {
            return true;
        }
    }
    false
}

fn strip_article(mut t: Vec<String>) -> Vec<String> {
    if t.len() > 1 && matches!(t[0].as_str(), "the" | "a" | "an") {
        t.remove(0);
    }
    t
}

/// True when `needle` occurs in `hay` as consecutive whole tokens, not negated.
fn find_unnegated(hay: &[String], needle: &[String]) -> bool {
    if needle.len() > hay.len() {
        return false;
    }
    (0..=hay.len() - needle.len())
        .any(|i| hay[i..i + needle.len()] == *needle && !negated_at(hay, i))
}

/// Is the phrase starting at token `i` denied: "not Paris", "isn't Paris", "does not mean
/// found"? ("The symbol No is Nobelium" is not a denial: "no" only counts right before.)
fn negated_at(tokens: &[String], i: usize) -> bool {
    let before = |k: usize| (i >= k).then(|| tokens[i - k].as_str());
    before(1).is_some_and(|t| NEGATIONS.contains(&t))
        || before(2).is_some_and(|t| NEGATIONS.contains(&t) && t != "no" && t != "nor")
}

/// The text up to the first clause boundary: `, ; : . ! ?` or a newline (a '.' between digits
/// is a decimal point, not a boundary).
fn first_clause(text: &str) -> &str {
    split_at_boundary(text.trim_start(), &[',', ';', ':', '.', '!', '?', '\n'])
}

/// The text up to the end of the first sentence.
fn first_sentence(text: &str) -> &str {
    split_at_boundary(text.trim_start(), &['.', '!', '?', '\n'])
}

fn split_at_boundary<'a>(text: &'a str, stops: &[char]) -> &'a str {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !stops.contains(&c) {
            continue;
        }
        let digit_before = k > 0 && chars[k - 1].1.is_ascii_digit();
        let digit_after = chars.get(k + 1).is_some_and(|&(_, d)| d.is_ascii_digit());
        // 3.5 and 1,000 are numbers, not clause ends.
        if (c == '.' || c == ',') && digit_before && digit_after {
            continue;
        }
        // "St. John's", "Daniel D. Tompkins": a '.' after an initial or a title is kept.
        if c == '.' && is_abbreviation_before(&chars[..k]) {
            continue;
        }
        return &text[..i];
    }
    text
}

fn is_abbreviation_before(chars: &[(usize, char)]) -> bool {
    let word: Vec<char> = chars
        .iter()
        .rev()
        .take_while(|(_, c)| c.is_alphabetic())
        .map(|&(_, c)| c)
        .collect();
    let n = word.len();
    let starts_word = chars.len() == n || !chars[chars.len() - n - 1].1.is_alphanumeric();
    let initial = n == 1; // "Daniel D. Tompkins"
    matches!(n, 1..=3)
        && starts_word
        && word.last().is_some_and(|c| c.is_uppercase())
        && (initial
            || ["St", "Mr", "Dr", "Mt", "Jr", "Sr", "Ft"]
                .iter()
                .any(|a| a.chars().rev().eq(word.iter().copied())))
}

/// The number a reply gives: the last number in its first sentence, or in the whole reply when
/// the first sentence has none.
fn answer_number(answer: &str) -> Option<f64> {
    let last = |text: &str| tokens(text).iter().rev().find_map(|t| parse_number(t));
    last(first_sentence(answer)).or_else(|| last(answer))
}

fn parse_number(token: &str) -> Option<f64> {
    let t = token.trim();
    if t.is_empty() || !t.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse::<f64>().ok()
}

fn numbers_equal(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The normalised text as a list of tokens.
pub fn tokens(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Lower case, accents folded, punctuation removed, number words and "1,000" turned into digits,
/// ordinal suffixes dropped; tokens joined by single spaces.
pub fn normalize(text: &str) -> String {
    let chars: Vec<char> = text.chars().flat_map(fold_char).collect();
    let mut out = String::with_capacity(chars.len());
    for (k, &c) in chars.iter().enumerate() {
        let prev = if k > 0 { chars[k - 1] } else { ' ' };
        let next = chars.get(k + 1).copied().unwrap_or(' ');
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if c == '\'' || c == '\u{2019}' || c == '`' {
            // apostrophes join: "john's" -> "johns", "isn't" -> "isnt"
        } else if c == '.' && prev.is_ascii_digit() && next.is_ascii_digit() {
            out.push('.');
        } else if c == ',' && prev.is_ascii_digit() && next.is_ascii_digit() && thousands(&chars, k)
        {
            // 1,000 -> 1000
        } else if (c == '-' || c == '\u{2212}') && next.is_ascii_digit() && !prev.is_alphanumeric()
        {
            out.push('-');
        } else {
            out.push(' ');
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    numbers_to_digits(&words).join(" ")
}

/// Is the ',' at `k` a thousands separator (followed by exactly three digits)?
fn thousands(chars: &[char], k: usize) -> bool {
    let digits = chars[k + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    digits == 3
}

/// Accented Latin letters to their base letter ("Yaoundé" → "Yaounde"), curly quotes to straight.
fn fold_char(c: char) -> Vec<char> {
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' => 'A',
        'è' | 'é' | 'ê' | 'ë' | 'ē' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' => 'E',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => 'I',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' => 'O',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' => 'U',
        'ç' => 'c',
        'Ç' => 'C',
        'ñ' => 'n',
        'Ñ' => 'N',
        'ý' | 'ÿ' => 'y',
        '‘' | '’' => '\'',
        '“' | '”' => '"',
        'ß' => return vec!['s', 's'],
        'æ' => return vec!['a', 'e'],
        'œ' => return vec!['o', 'e'],
        _ => c,
    };
    vec![base]
}

const UNITS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: &[&str] = &[
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn unit_value(w: &str) -> Option<u64> {
    UNITS.iter().position(|u| *u == w).map(|v| v as u64)
}
fn tens_value(w: &str) -> Option<u64> {
    TENS.iter()
        .position(|t| !t.is_empty() && *t == w)
        .map(|v| 10 * v as u64)
}

/// Replaces runs of number words ("one hundred and five", "minus three") by their digits, and
/// "13th" by "13". Words that are not part of a number pass through.
fn numbers_to_digits(words: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if let Some((value, used)) = parse_number_words(&words[i..]) {
            out.push(value);
            i += used;
            continue;
        }
        out.push(strip_ordinal(words[i]));
        i += 1;
    }
    out
}

fn strip_ordinal(w: &str) -> String {
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(num) = w.strip_suffix(suffix) {
            if !num.is_empty() && num.chars().all(|c| c.is_ascii_digit()) {
                return num.to_string();
            }
        }
    }
    w.to_string()
}

/// Parses number words at the start of `words`; returns the digits and how many words they took.
/// The grammar is English's: "one two" is two numbers, "twenty one" is one.
fn parse_number_words(words: &[&str]) -> Option<(String, usize)> {
    #[derive(PartialEq, Clone, Copy)]
    enum Last {
        Start,
        Unit, // 1-9
        Teen, // 0, 10-19
        Tens, // 20, 30, ... 90
        Hundred,
        Scale, // thousand, million
    }
    let (negative, start) = match words.first() {
        Some(&"minus") | Some(&"negative") if words.len() > 1 => (true, 1),
        _ => (false, 0),
    };
    let mut total: u64 = 0; // completed thousands and millions
    let mut current: u64 = 0; // the group being read (< 1000)
    let mut last = Last::Start;
    let mut used = start;
    while used < words.len() {
        let w = words[used];
        let group_open = matches!(last, Last::Start | Last::Hundred | Last::Scale);
        if let Some(v) = unit_value(w) {
            let (allowed, kind) = match v {
                1..=9 => (group_open || last == Last::Tens, Last::Unit),
                0 => (last == Last::Start, Last::Teen),
                _ => (group_open, Last::Teen),
            };
            if !allowed {
                break;
            }
            current += v;
            last = kind;
        } else if let Some(v) = tens_value(w) {
            if !group_open {
                break;
            }
            current += v;
            last = Last::Tens;
        } else if w == "hundred" && matches!(last, Last::Unit | Last::Teen) && current < 20 {
            current *= 100;
            last = Last::Hundred;
        } else if (w == "thousand" || w == "million") && last != Last::Start && last != Last::Scale
        {
            let scale = if w == "thousand" { 1_000 } else { 1_000_000 };
            total += current * scale;
            current = 0;
            last = Last::Scale;
        } else if w == "and"
            && matches!(last, Last::Hundred | Last::Scale)
            && words
                .get(used + 1)
                .is_some_and(|n| unit_value(n).is_some_and(|v| v > 0) || tens_value(n).is_some())
        {
            // "one hundred and five": the "and" belongs to the number
        } else {
            break;
        }
        used += 1;
    }
    if last == Last::Start {
        return None;
    }
    let value = total + current;
    let digits = if negative {
        format!("-{value}")
    } else {
        value.to_string()
    };
    Some((digits, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_words() {
        assert_eq!(normalize("Twenty-one"), "21");
        assert_eq!(normalize("one hundred and five apples"), "105 apples");
        assert_eq!(normalize("minus three"), "-3");
        assert_eq!(normalize("two thousand and twelve"), "2012");
        assert_eq!(normalize("1,000 and 3.5"), "1000 and 3.5");
        assert_eq!(normalize("one two"), "1 2");
        assert_eq!(normalize("March 13th"), "march 13");
    }

    #[test]
    fn clauses() {
        assert_eq!(first_clause("St. John's, of course"), "St. John's");
        assert_eq!(first_sentence("It is 3.5. Next"), "It is 3.5");
    }
}
