//! Obfuscation augmentation: leetspeak, spaced and repeated letters, zero-width characters,
//! homoglyphs, mixed case, full-width forms, accents and masked vowels, applied to the words a
//! filter would look for.

use super::compose::Rng;
use super::tables::tables;
use super::Example;

/// The obfuscations augmentation applies, by name.
pub const OBFUSCATIONS: [&str; 9] = [
    "leet",
    "spaced",
    "repeat",
    "zero_width",
    "homoglyph",
    "mixed_case",
    "full_width",
    "accents",
    "mask",
];

/// Applies obfuscation `kind` to one word.
pub(super) fn obfuscate_word(word: &str, kind: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = word.chars().collect();
    match kind {
        "leet" => substitute(&chars, leet, rng),
        "spaced" => {
            let sep = *rng.pick(&[" ", ".", "-", "_", " . ", "*"]);
            chars
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(sep)
        }
        "repeat" => {
            let at = rng.below(chars.len());
            let times = 3 + rng.below(5);
            let mut s = String::new();
            for (i, &c) in chars.iter().enumerate() {
                s.push(c);
                if i == at && c.is_alphabetic() {
                    for _ in 1..times {
                        s.push(c);
                    }
                }
            }
            s
        }
        "zero_width" => {
            let zw = [
                '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}',
            ];
            let mut s = String::new();
            for (i, &c) in chars.iter().enumerate() {
                s.push(c);
                if i + 1 < chars.len() && rng.chance(0.5) {
                    s.push(*rng.pick(&zw));
                }
            }
            s
        }
        "homoglyph" => substitute(&chars, homoglyph, rng),
        "mixed_case" => chars
            .iter()
            .map(|&c| {
                if rng.chance(0.5) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
        "full_width" => chars
            .iter()
            .map(|&c| {
                if c.is_ascii_graphic() {
                    char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect(),
        "accents" => {
            let marks = ['\u{0301}', '\u{0308}', '\u{030C}', '\u{0327}', '\u{0336}'];
            let mut s = String::new();
            for &c in &chars {
                s.push(c);
                if c.is_ascii_alphabetic() && rng.chance(0.5) {
                    s.push(*rng.pick(&marks));
                }
            }
            s
        }
        // Vowels masked with `*` (`f*ck`): normalize leaves these, the classifier learns them.
        "mask" => {
            let vowels: Vec<usize> = (0..chars.len())
                .filter(|&i| i > 0 && "aeiou".contains(chars[i]))
                .collect();
            if vowels.is_empty() {
                return word.to_string();
            }
            let at = *rng.pick(&vowels);
            chars
                .iter()
                .enumerate()
                .map(|(i, &c)| if i == at { '*' } else { c })
                .collect()
        }
        _ => word.to_string(),
    }
}

/// Obfuscates a text: one or two methods applied to its key words (the lexicon and trigger
/// words it was filled with, else its longest words), or to the whole text for mixed case.
pub(super) fn obfuscate(ex: &Example, keywords: &[String], rng: &mut Rng) -> Example {
    let n_methods = 1 + rng.below(2);
    let mut methods: Vec<&str> = Vec::new();
    while methods.len() < n_methods {
        let m = *rng.pick(&OBFUSCATIONS);
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    let mut words: Vec<String> = ex.text.split(' ').map(String::from).collect();
    // Targets: words of the filler, else the two longest words.
    let bare = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    let mut targets: Vec<usize> = (0..words.len())
        .filter(|&i| {
            let w = bare(&words[i]);
            keywords.iter().any(|k| k.split(' ').any(|kw| kw == w))
                || tables().triggers.contains(&w)
        })
        .collect();
    if targets.is_empty() {
        let mut by_len: Vec<usize> = (0..words.len()).collect();
        by_len.sort_by_key(|&i| std::cmp::Reverse(words[i].chars().count()));
        targets = by_len.into_iter().take(2).collect();
    }
    for &m in &methods {
        if m == "mixed_case" {
            for w in words.iter_mut() {
                *w = obfuscate_word(w, m, rng);
            }
            continue;
        }
        for &i in &targets {
            if words[i].chars().count() >= 2 {
                words[i] = obfuscate_word(&words[i], m, rng);
            }
        }
    }
    let mut out = ex.clone();
    out.text = words.join(" ");
    out.obfuscation = methods.iter().map(|m| m.to_string()).collect();
    out
}

/// Replaces each character that `subs` has look-alikes for by one of them, with probability 0.6.
fn substitute(chars: &[char], subs: fn(char) -> &'static [char], rng: &mut Rng) -> String {
    chars
        .iter()
        .map(|&c| {
            let sub = subs(c);
            if !sub.is_empty() && rng.chance(0.6) {
                *rng.pick(sub)
            } else {
                c
            }
        })
        .collect()
}

/// Leetspeak digits and signs for a letter.
fn leet(c: char) -> &'static [char] {
    match c {
        'a' => &['4', '@'],
        'e' => &['3'],
        'i' => &['1', '!'],
        'o' => &['0'],
        's' => &['5', '$'],
        't' => &['7'],
        _ => &[],
    }
}

/// Cyrillic and Greek look-alikes of a Latin letter.
fn homoglyph(c: char) -> &'static [char] {
    match c {
        'a' => &['а', 'α'],
        'c' => &['с'],
        'e' => &['е'],
        'i' => &['і', 'ι'],
        'o' => &['о', 'ο'],
        'p' => &['р', 'ρ'],
        's' => &['ѕ'],
        'x' => &['х'],
        'y' => &['у'],
        'h' => &['һ'],
        'k' => &['κ'],
        _ => &[],
    }
}
