//! Text normalisation in front of the moderation classifier.
//!
//! People who want past a filter write `k i l l`, `sh!t`, `ѕһіt` (Cyrillic), `ｆｕｃｋ`, `fuuuuck` or
//! hide zero-width spaces inside words. `normalize` folds all of these back to one plain, lower-case
//! spelling, so the classifier (and its training data, which goes through the same function) sees
//! one form per word. The steps, in order:
//!
//! 1. drop invisible characters: zero-width space/joiners, word joiner, BOM, soft hyphen, variation
//!    selectors, tag characters, bidi controls, Hangul fillers;
//! 2. Unicode NFKC (full-width, math alphanumerics, circled and squared letters, ligatures), done as
//!    NFKD → drop combining marks that sit on a Latin, Greek or Cyrillic base (`fučk`, Zalgo text) →
//!    NFC, so accents used to obfuscate disappear while Devanagari or Arabic marks stay;
//! 3. homoglyph folding, before lower-casing because case matters (`Η` Greek capital eta looks like
//!    `H`, `η` like `n`): Cyrillic and Greek look-alikes become Latin inside words that already hold a
//!    Latin letter or are spelled only with look-alikes (real Russian or Greek words are left alone);
//!    small capitals, IPA letters, `ø ł đ ħ ß` and the enclosed/regional-indicator letters always fold;
//! 4. lower-casing;
//! 5. whitespace collapsing (every Unicode space, tab and newline run becomes one space; trimmed);
//! 6. collapsing spaced-out letters: three or more single letters joined by spaces, dots, dashes,
//!    underscores, asterisks or middle dots (`k i l l`, `f.u.c.k`, `s-h-i-t`) become one word;
//! 7. leetspeak folding (`0→o 1→i/l 3→e 4→a 5→s 7→t 8→b 9→g @→a $→s !→i |→i/l +→t €→e`) only in
//!    words that mix letters with such symbols, so `I have 3 cats`, `2024`, `3rd` and `10am` keep
//!    their digits and a sentence's final `!` stays;
//! 8. squeezing runs of three or more of the same letter to two (`kiiiiill` → `kiill`,
//!    `fuuuuck` → `fuuck`): English has no tripled letters, and two keeps `kill`, `good`, `all`
//!    intact. [`skeleton`] squeezes every run to one, for matching words whatever their doubling.
//!
//! Pure Rust, no allocation beyond the output strings; it runs in the browser before every check.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The normalised form the moderation classifier sees. Idempotent: `normalize(normalize(s)) ==
/// normalize(s)`.
pub fn normalize(text: &str) -> String {
    let visible: String = text.chars().filter(|&c| !is_invisible(c)).collect();
    let unmarked = strip_obfuscating_marks(&visible);
    let folded = fold_homoglyphs(&unmarked);
    let lower = folded.to_lowercase();
    let spaced = collapse_whitespace(&lower);
    let joined = collapse_spaced_letters(&spaced);
    let unleet = fold_leetspeak(&joined);
    let squeezed = squeeze_repeats(&unleet, 2);
    // Folding can strip a word to nothing only in degenerate input; keep the output tidy anyway.
    collapse_whitespace(&squeezed)
}

/// `normalize`, then every run of a repeated letter squeezed to one: `kill`, `kiill` and `kiiiill`
/// all give `kil`. Use it to decide whether two spellings are the same word (the data split keys
/// lexicon words by it, so `fuck` and `fuuck` can never land on both sides of the split).
pub fn skeleton(text: &str) -> String {
    squeeze_repeats(&normalize(text), 1)
}

/// Zero-width and other invisible characters that only serve to split a word for a filter.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // Arabic letter mark
        | '\u{115F}' | '\u{1160}'   // Hangul choseong/jungseong fillers
        | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels (invisible)
        | '\u{180B}'..='\u{180F}'   // Mongolian free variation selectors, vowel separator
        | '\u{200B}'..='\u{200F}'   // zero-width space, ZWNJ, ZWJ, LRM, RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'   // bidi isolates, deprecated format characters
        | '\u{3164}'                // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FEFF}'                // zero-width no-break space (BOM)
        | '\u{FFA0}'                // half-width Hangul filler
        | '\u{1D173}'..='\u{1D17A}' // musical formatting controls
        | '\u{E0000}'..='\u{E007F}' // tag characters
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

/// Latin, Greek and Cyrillic letters (and ASCII): scripts whose combining marks are accents that a
/// classifier of English text can drop. Marks on other scripts (Devanagari vowel signs, Arabic
/// harakat) carry meaning and stay.
fn is_lgc_base(c: char) -> bool {
    c.is_ascii()
        || ('\u{00C0}'..='\u{024F}').contains(&c) // Latin-1 letters, Latin Extended-A/B
        || ('\u{0250}'..='\u{02AF}').contains(&c) // IPA
        || ('\u{0370}'..='\u{052F}').contains(&c) // Greek, Cyrillic, Cyrillic supplement
        || ('\u{1D00}'..='\u{1DBF}').contains(&c) // phonetic extensions (small capitals)
        || ('\u{1E00}'..='\u{1FFF}').contains(&c) // Latin Extended Additional, Greek Extended
}

/// NFKD, drop combining marks that follow a Latin/Greek/Cyrillic base (however many are stacked),
/// recompose with NFC. The result is NFKC minus those marks.
fn strip_obfuscating_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut base_is_lgc = false;
    for c in text.nfkd() {
        if is_combining_mark(c) {
            if !base_is_lgc {
                out.push(c);
            }
        } else {
            base_is_lgc = is_lgc_base(c);
            out.push(c);
        }
    }
    out.nfc().collect()
}

/// A look-alike: the Latin letter it folds to, and whether it belongs to a real script (Greek,
/// Cyrillic) whose own words must be left alone.
fn homoglyph(c: char) -> Option<(char, bool)> {
    let script = |l| Some((l, true));
    let always = |l| Some((l, false));
    match c {
        // Cyrillic capitals.
        'А' => script('A'),
        'В' => script('B'),
        'Е' | 'Ё' => script('E'),
        'К' => script('K'),
        'М' => script('M'),
        'Н' => script('H'),
        'О' => script('O'),
        'Р' => script('P'),
        'С' => script('C'),
        'Т' => script('T'),
        'У' => script('Y'),
        'Х' => script('X'),
        'Ѕ' => script('S'),
        'І' | 'Ї' => script('I'),
        'Ј' => script('J'),
        'Ԁ' => script('D'),
        'Ԛ' => script('Q'),
        'Ԝ' => script('W'),
        'Һ' => script('H'),
        'Ӏ' => script('I'),
        // Cyrillic small letters.
        'а' => script('a'),
        'в' | 'ь' => script('b'),
        'е' | 'ё' => script('e'),
        'к' => script('k'),
        'м' => script('m'),
        'н' | 'һ' => script('h'),
        'о' => script('o'),
        'п' => script('n'),
        'р' => script('p'),
        'с' => script('c'),
        'т' => script('t'),
        'у' => script('y'),
        'х' => script('x'),
        'ш' => script('w'),
        'ѕ' => script('s'),
        'і' | 'ї' => script('i'),
        'ј' => script('j'),
        'ԁ' => script('d'),
        'ԛ' => script('q'),
        'ԝ' => script('w'),
        'ӏ' => script('l'),
        // Greek capitals.
        'Α' => script('A'),
        'Β' => script('B'),
        'Ε' => script('E'),
        'Ζ' => script('Z'),
        'Η' => script('H'),
        'Ι' => script('I'),
        'Κ' => script('K'),
        'Μ' => script('M'),
        'Ν' => script('N'),
        'Ο' => script('O'),
        'Ρ' => script('P'),
        'Τ' => script('T'),
        'Υ' => script('Y'),
        'Χ' => script('X'),
        // Greek small letters.
        'α' => script('a'),
        'β' => script('b'),
        'γ' => script('y'),
        'ε' => script('e'),
        'ζ' => script('z'),
        'η' => script('n'),
        'ι' => script('i'),
        'κ' => script('k'),
        'μ' => script('u'),
        'ν' => script('v'),
        'ο' => script('o'),
        'ρ' => script('p'),
        'ς' => script('s'),
        'τ' => script('t'),
        'υ' => script('u'),
        'χ' => script('x'),
        'ω' => script('w'),
        // Latin look-alikes that NFKC leaves alone: small capitals, IPA, stroked letters.
        'ᴀ' | 'ɑ' => always('a'),
        'ʙ' | 'ƀ' => always('b'),
        'ᴄ' => always('c'),
        'ᴅ' | 'đ' | 'ð' => always('d'),
        'ᴇ' => always('e'),
        'ɢ' | 'ɡ' => always('g'),
        'ʜ' | 'ħ' => always('h'),
        'ɪ' | 'ı' | 'ɩ' => always('i'),
        'ᴊ' | 'ȷ' => always('j'),
        'ᴋ' => always('k'),
        'ʟ' | 'ł' => always('l'),
        'ᴍ' => always('m'),
        'ɴ' => always('n'),
        'ᴏ' | 'ø' | 'Ø' => always('o'),
        'ᴘ' => always('p'),
        'ǫ' => always('q'),
        'ʀ' => always('r'),
        'ꜱ' => always('s'),
        'ᴛ' | 'ŧ' => always('t'),
        'ᴜ' => always('u'),
        'ᴠ' => always('v'),
        'ᴡ' => always('w'),
        'ʏ' => always('y'),
        'ᴢ' => always('z'),
        // Negative circled, negative squared letters and regional indicators (🅐 🅰 🇦): NFKC has
        // no decomposition for them.
        '\u{1F150}'..='\u{1F169}' => always(letter(c as u32 - 0x1F150)),
        '\u{1F170}'..='\u{1F189}' => always(letter(c as u32 - 0x1F170)),
        '\u{1F1E6}'..='\u{1F1FF}' => always(letter(c as u32 - 0x1F1E6)),
        _ => None,
    }
}

fn letter(i: u32) -> char {
    char::from(b'a' + i as u8)
}

/// Replaces look-alikes word by word (a word: a run of alphanumeric characters). Greek and
/// Cyrillic look-alikes fold only in words that hold a Latin letter or consist solely of
/// look-alikes, so `привет` and `καλημέρα` survive while `ѕһіt` and `fuсk` (Cyrillic `с`) fold.
fn fold_homoglyphs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word: Vec<char> = Vec::new();
    let flush = |word: &mut Vec<char>, out: &mut String| {
        let has_latin = word.iter().any(|c| c.is_ascii_alphabetic());
        let all_lookalike = word
            .iter()
            .all(|&c| !c.is_alphabetic() || c.is_ascii_alphabetic() || homoglyph(c).is_some());
        let fold_script = has_latin || all_lookalike;
        for &c in word.iter() {
            match homoglyph(c) {
                Some((l, true)) if fold_script => out.push(l),
                Some((l, false)) => out.push(l),
                _ => out.push(c),
            }
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || homoglyph(c).is_some() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Every run of whitespace becomes one ASCII space; leading and trailing whitespace goes.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Symbols that stand for letters in leetspeak. `1` and `|` are resolved by context, see
/// `leet_letter`.
fn is_leet(c: char) -> bool {
    matches!(
        c,
        '0' | '1' | '3' | '4' | '5' | '7' | '8' | '9' | '@' | '$' | '!' | '|' | '+' | '€'
    )
}

/// A character that may stand alone in a spaced-out word: a letter or a leet symbol.
fn is_letterish(c: char) -> bool {
    c.is_alphabetic() || is_leet(c)
}

/// Separators people put between the letters of a spaced-out word.
fn is_letter_separator(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '_' | '*' | '·' | '•' | '/' | '~')
}

/// Joins runs of at least three isolated single letters (or leet symbols) separated by one to three
/// separator characters: `k i l l` → `kill`, `f.u.c.k` → `fuck`, `s - h - i - t` → `shit`. A run
/// needs at least two real letters, so countdowns (`3 2 1`) and lists of digits stay.
fn collapse_spaced_letters(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let isolated = |i: usize| {
        is_letterish(chars[i])
            && (i == 0 || !is_letterish(chars[i - 1]))
            && (i + 1 == n || !is_letterish(chars[i + 1]))
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < n {
        if !isolated(i) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Collect the positions of the run's letters.
        let mut run = vec![i];
        let mut j = i + 1;
        loop {
            let mut k = j;
            while k < n && k - j < 3 && is_letter_separator(chars[k]) {
                k += 1;
            }
            if k > j && k < n && isolated(k) {
                run.push(k);
                j = k + 1;
            } else {
                break;
            }
        }
        let letters = run.iter().filter(|&&p| chars[p].is_alphabetic()).count();
        if run.len() >= 3 && letters >= 2 {
            out.extend(run.iter().map(|&p| chars[p]));
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Leading and trailing punctuation that is not part of a word (`"sh!t!"` → core `sh!t`).
fn is_leading_punct(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '"' | '\'' | '«' | '“' | '‘' | '¿' | '¡'
    )
}
fn is_trailing_punct(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | ':' | '?' | '!' | ')' | ']' | '}' | '"' | '\'' | '»' | '”' | '’' | '…'
    )
}

/// Folds leetspeak in each whitespace-separated token whose core (without surrounding
/// punctuation) mixes ASCII letters with leet symbols. Left alone: numbers (`2024`, `3`), ordinals
/// and units (`3rd`, `10am`, `5kg`, `90s`), web addresses and e-mail addresses.
fn fold_leetspeak(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, token) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let start = token
            .char_indices()
            .find(|&(_, c)| !is_leading_punct(c))
            .map_or(token.len(), |(p, _)| p);
        let end = token[start..]
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_trailing_punct(c))
            .map_or(start, |(p, c)| start + p + c.len_utf8());
        let core = &token[start..end];
        out.push_str(&token[..start]);
        if should_fold_leet(core) {
            let chars: Vec<char> = core.chars().collect();
            for (k, &c) in chars.iter().enumerate() {
                if is_leet(c) {
                    out.push(leet_letter(&chars, k));
                } else {
                    out.push(c);
                }
            }
        } else {
            out.push_str(core);
        }
        out.push_str(&token[end..]);
    }
    out
}

fn should_fold_leet(core: &str) -> bool {
    let has_letter = core.chars().any(|c| c.is_ascii_alphabetic());
    let has_leet = core.chars().any(is_leet);
    if !has_letter || !has_leet {
        return false;
    }
    if core.contains("://") || core.starts_with("www.") {
        return false;
    }
    // e-mail: letters@letters.letters
    if let Some(at) = core.find('@') {
        if at > 0 && core[at..].contains('.') {
            return false;
        }
    }
    // Prices (`$100k`, `€5m`) and language names (`c++`) are not leetspeak.
    let unpriced = core.strip_prefix(['$', '€']).unwrap_or(core);
    if unpriced.starts_with(|c: char| c.is_ascii_digit()) && is_number_with_suffix(unpriced) {
        return false;
    }
    !core.ends_with("++") && !is_number_with_suffix(core)
}

/// `3rd`, `21st`, `10am`, `5kg`, `90s`, `4k`, `1080p`, `2x`: a number followed by a short unit or
/// ordinal suffix, written with real digits.
fn is_number_with_suffix(core: &str) -> bool {
    let digits = core.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let suffix = &core[digits..];
    const SUFFIXES: &[&str] = &[
        "st", "nd", "rd", "th", "s", "am", "pm", "k", "m", "g", "kg", "km", "cm", "mm", "mg", "ml",
        "gb", "mb", "tb", "kb", "px", "p", "d", "x", "h", "hz", "v", "w", "fps", "mph", "kph",
        "lb", "lbs", "oz", "ft", "in", "yo", "min", "sec", "hrs", "mins", "secs", "c", "f",
    ];
    SUFFIXES.contains(&suffix)
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// The letter a leet symbol stands for at position `k` of a word. `1` and `|` are `l` at the start
/// of a word before a vowel (`1ame`), at the end after a vowel (`fai1`) and in a doubled pair after
/// a vowel (`ki11`); `i` everywhere else (`sh1t`, `k1ll`, `1diot`).
fn leet_letter(chars: &[char], k: usize) -> char {
    match chars[k] {
        '0' => 'o',
        '3' | '€' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        '8' => 'b',
        '9' => 'g',
        '!' => 'i',
        '1' | '|' => {
            let is_one = |c: char| c == '1' || c == '|';
            let prev = if k > 0 { Some(chars[k - 1]) } else { None };
            let next = chars.get(k + 1).copied();
            let at_start = prev.is_none_or(|c| !c.is_alphanumeric() && !is_leet(c));
            let at_end = next.is_none_or(|c| !c.is_alphanumeric() && !is_leet(c));
            if at_start && next.is_some_and(is_vowel) {
                'l'
            } else if at_end && prev.is_some_and(|c| is_vowel(c) || is_one(c)) {
                'l'
            } else if prev.is_some_and(is_vowel) && next.is_some_and(is_one) {
                'l'
            } else {
                'i'
            }
        }
        c => c,
    }
}

/// Squeezes every run of more than `keep` identical alphabetic characters to `keep` of them.
/// Digits and punctuation are left alone (`1000`, `!!!`).
pub fn squeeze_repeats(text: &str, keep: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    let mut run = 0;
    for c in text.chars() {
        if Some(c) == prev && c.is_alphabetic() {
            run += 1;
        } else {
            run = 1;
            prev = Some(c);
        }
        if !(c.is_alphabetic() && run > keep) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s)
    }

    #[test]
    fn lowercases_and_collapses_whitespace() {
        assert_eq!(n("  Hello   WORLD\t\n again  "), "hello world again");
        assert_eq!(n("MiXeD CaSe"), "mixed case");
        assert_eq!(n(""), "");
        assert_eq!(n(" \u{3000}\n "), "");
    }

    #[test]
    fn nfkc_folds_full_width_and_styled_letters() {
        assert_eq!(n("ｆｕｃｋ"), "fuck");
        assert_eq!(n("𝐤𝐢𝐥𝐥"), "kill"); // mathematical bold
        assert_eq!(n("𝓀𝒾𝓁𝓁"), "kill"); // mathematical script
        assert_eq!(n("ⓚⓘⓛⓛ"), "kill"); // circled
        assert_eq!(n("ﬁre"), "fire"); // ligature
        assert_eq!(n("🅺🅸🅻🅻"), "kill"); // negative squared
        assert_eq!(n("🇰🇮🇱🇱"), "kill"); // regional indicators
    }

    #[test]
    fn removes_invisible_characters() {
        assert_eq!(n("ki\u{200B}ll"), "kill");
        assert_eq!(n("k\u{200C}i\u{200D}l\u{2060}l\u{FEFF}"), "kill");
        assert_eq!(n("sh\u{00AD}it"), "shit"); // soft hyphen
        assert_eq!(n("f\u{FE0F}uck"), "fuck"); // variation selector
        assert_eq!(n("hate\u{E0041}\u{E007F}"), "hate"); // tag characters
        assert_eq!(n("\u{202E}kill\u{202C}"), "kill"); // bidi override
    }

    #[test]
    fn strips_obfuscating_accents_but_keeps_other_scripts() {
        assert_eq!(n("fučk"), "fuck");
        assert_eq!(n("ÄšŚ"), "ass");
        assert_eq!(n("k̷̢i̶l̴̡l̸"), "kill"); // Zalgo
        assert_eq!(n("Café"), "cafe");
        // Devanagari vowel signs are combining marks that carry meaning: kept.
        assert_eq!(n("नमस्ते"), "नमस्ते");
    }

    #[test]
    fn folds_cyrillic_and_greek_homoglyphs_in_latin_words() {
        assert_eq!(n("fuсk"), "fuck"); // Cyrillic с
        assert_eq!(n("ѕһіt"), "shit"); // all look-alikes
        assert_eq!(n("ΚΙLL"), "kill"); // Greek capitals
        assert_eq!(n("ΗΑΤΕ"), "hate"); // Greek capital eta is H, not n
        assert_eq!(n("іdіоt"), "idiot");
        assert_eq!(n("ʜᴀᴛᴇ"), "hate"); // small capitals
        assert_eq!(n("ɪᴅɪᴏᴛ"), "idiot");
    }

    #[test]
    fn leaves_real_russian_and_greek_words_alone() {
        assert_eq!(n("Привет, мир"), "привет, мир");
        assert_eq!(n("καλημέρα"), "καλημερα"); // accent stripped, letters kept
    }

    #[test]
    fn folds_leetspeak_inside_mixed_words() {
        assert_eq!(n("sh1t"), "shit");
        assert_eq!(n("k1ll"), "kill");
        assert_eq!(n("ki11"), "kill");
        assert_eq!(n("h4t3"), "hate");
        assert_eq!(n("@ss"), "ass");
        assert_eq!(n("a$$"), "ass");
        assert_eq!(n("b!tch"), "bitch");
        assert_eq!(n("1diot"), "idiot");
        assert_eq!(n("1ame"), "lame");
        assert_eq!(n("fai1"), "fail");
        assert_eq!(n("n00b"), "noob");
        assert_eq!(n("5tup1d"), "stupid");
        assert_eq!(n("h3ll0!"), "hello!");
        assert_eq!(n("\"sh!t!\""), "\"shit!\"");
    }

    #[test]
    fn keeps_digits_in_numbers_and_sentences() {
        assert_eq!(n("I have 3 cats"), "i have 3 cats");
        assert_eq!(n("2024"), "2024");
        assert_eq!(n("call me at 555-0199"), "call me at 555-0199");
        assert_eq!(n("the 3rd of May at 10am"), "the 3rd of may at 10am");
        assert_eq!(n("a 5kg bag in the 90s"), "a 5kg bag in the 90s");
        assert_eq!(n("Wow!"), "wow!");
        assert_eq!(n("$5 for 2"), "$5 for 2");
        assert_eq!(n("mail bob@example.com"), "mail bob@example.com");
        assert_eq!(n("see https://ex4mple.com"), "see https://ex4mple.com");
        assert_eq!(n("3 2 1 go"), "3 2 1 go");
        assert_eq!(n("it costs $100k or €5m"), "it costs $100k or €5m");
        assert_eq!(n("learning c++ in 2024"), "learning c++ in 2024");
    }

    #[test]
    fn collapses_spaced_out_letters() {
        assert_eq!(n("k i l l"), "kill");
        assert_eq!(n("f.u.c.k"), "fuck");
        assert_eq!(n("s-h-i-t happens"), "shit happens");
        assert_eq!(n("I will k i l l you"), "i will kill you");
        assert_eq!(n("f . u . c . k"), "fuck");
        assert_eq!(n("k 1 l l"), "kill"); // spaced and leet
        assert_eq!(n("k_i_l_l"), "kill");
        // Two letters are not a spaced-out word; e.g. stays.
        assert_eq!(n("e.g. this"), "e.g. this");
        assert_eq!(n("a cat"), "a cat");
        assert_eq!(n("t-shirt"), "t-shirt");
    }

    #[test]
    fn squeezes_repeated_letters() {
        assert_eq!(n("kiiiiilll"), "kiill");
        assert_eq!(n("fuuuuuck"), "fuuck");
        assert_eq!(n("good"), "good");
        assert_eq!(n("cool!!!!"), "cool!!!!");
        assert_eq!(n("1000000"), "1000000");
        assert_eq!(skeleton("kiiiill"), "kil");
        assert_eq!(skeleton("kill"), skeleton("kiiiiiill"));
    }

    #[test]
    fn combined_obfuscations() {
        assert_eq!(n("  Y O U   are an  1d1ot "), "you are an idiot");
        assert_eq!(n("I'll k\u{200B}1ll yоu"), "i'll kill you"); // ZWSP, leet, Cyrillic о
        assert_eq!(n("ＳＨ１Ｔ"), "shit"); // full-width with a full-width digit
    }

    #[test]
    fn is_idempotent() {
        for s in [
            "k i l l",
            "sh1t happens at 10am",
            "ΗΑΤΕ ѕһіt",
            "fuuuuck",
            "I have 3 cats and 2 dogs!",
            "e.g. f . u . c . k",
        ] {
            let once = n(s);
            assert_eq!(n(&once), once, "not idempotent on {s:?}");
        }
    }
}
