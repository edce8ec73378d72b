//! The GPT-2 vocabulary that tiktoken-rs ships (assets/encoder.json + assets/vocab.bpe), turned
//! into a Hugging Face tokenizer.json by `tinychat::tokenizer::gpt2_tokenizer_json`, must give
//! exactly the ids of tiktoken-rs's `r50k_base` encoding.

use std::path::PathBuf;
use tinychat::tokenizer::{gpt2_tokenizer_json, Tokenizer};

/// tiktoken-rs's assets folder in cargo's registry (the crate is a dev-dependency, so a
/// `cargo test` has unpacked it).
fn tiktoken_assets() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let src = cargo_home.join("registry").join("src");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .flatten()
        .flat_map(|index| std::fs::read_dir(index.path()).into_iter().flatten())
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tiktoken-rs-"))
                && p.join("assets/encoder.json").is_file()
        })
        .collect();
    found.sort();
    found.pop().map(|p| p.join("assets")).unwrap_or_else(|| {
        panic!(
            "tiktoken-rs's assets are not under {}\n---> HINT: run `cargo fetch` (tiktoken-rs is a dev-dependency)",
            src.display()
        )
    })
}

fn gpt2() -> Tokenizer {
    let dir = tiktoken_assets();
    let enc = std::fs::read_to_string(dir.join("encoder.json")).unwrap();
    let bpe = std::fs::read_to_string(dir.join("vocab.bpe")).unwrap();
    let json = gpt2_tokenizer_json(&enc, &bpe).expect("convert the GPT-2 vocabulary");
    Tokenizer::from_bytes(json.as_bytes()).expect("load the tokenizer.json just written")
}

/// Varied text: prose, contractions, digits, whitespace runs, punctuation, code, Unicode.
fn samples() -> Vec<String> {
    let mut s: Vec<String> = [
        "Hello, world! This is a test of the GPT-2 tokenizer.",
        "It's, I'm, you're, we've, they'll, he'd, don't, can't, won't, shouldn't've.",
        "IT'S I'M YOU'RE WE'VE THEY'LL HE'D -- 'quoted' and \"double\" and `tick`.",
        "Contractions after spaces: ' s 't 're 've 'm 'll 'd 'x '' ''' '",
        "Numbers: 0 1 12 123 1234 12345 123456 3.14159 -42 +7 1e10 0x1F 1,000,000 2026-11-26 12:34:56",
        "Whitespace:  two   three    four\ttab\t\ttabs\nnewline\n\nnewlines\r\nCRLF \n \n  \n",
        "trailing spaces   ",
        "   leading spaces",
        "\n\n\nleading newlines and a trailing tab\t",
        " ",
        "  ",
        "\t",
        "\u{a0}non-breaking\u{a0}space and\u{2003}em space and\u{3000}ideographic space",
        "Punctuation!!! ??? ... ,,, ;;; ::: --- ___ +++ === *** &&& ||| ~~~ ^^^ %%% $$$ ### @@@",
        "Brackets (a) [b] {c} <d> «e» “f” ‘g’ „h“ ‹i›",
        "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n    println!(\"{x:?}\");\n}\n",
        "def f(x):\n\tif x >= 0 and x != 3:\n\t\treturn x ** 2  # comment\n\treturn None\n",
        "<html><body class=\"main\"><p>Text &amp; more&nbsp;text</p></body></html>",
        "SELECT id, name FROM users WHERE age > 21 ORDER BY name DESC LIMIT 10;",
        "https://example.com/path?query=1&other=two#frag user@example.org",
        "Café, naïve, résumé, façade, jalapeño, Ångström, Øre, Straße, ﬁ ligature",
        "Ελληνικά, Русский текст, עברית, العربية, हिन्दी, ไทย",
        "中文文本测试：你好，世界！日本語のテキスト、カタカナ。한국어 텍스트입니다.",
        "Emoji: 😀 😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✓ ✗ ★ ☃ 🦀 🐍",
        "Combining: e\u{301} a\u{308} n\u{303} and zero\u{200b}width\u{200d}joiner",
        "Math: ∑ ∫ √ ∞ ≤ ≥ ≠ ≈ π α β γ × ÷ ± ½ ¾ ²³",
        "MiXeD CaSe WoRdS and ALLCAPS and lowercase and Title Case",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        "The year 1999 and 2000; in 2024 we counted 365 days and 8760 hours.",
        "Special token: before<|endoftext|>after <|endoftext|> spaced",
        "<|endoftext|>",
        "Control \u{1} \u{7f} chars",
        "A very long word: pneumonoultramicroscopicsilicovolcanoconiosis and supercalifragilisticexpialidocious.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    s.push(PROSE.to_string());
    s.push(CODE.to_string());
    // The same again in capitals and with tabs for spaces: other merges, other splits.
    s.push(PROSE.to_uppercase());
    s.push(CODE.replace("  ", "\t").replace(' ', "\u{a0}"));
    // Whitespace runs of every small length between words and at the end.
    for n in 1..=6 {
        for ws in [" ", "\t", "\n", " \n", "\n "] {
            s.push(format!("x{}y{}", ws.repeat(n), ws.repeat(n)));
        }
    }
    // Digit runs of every length, alone and after a space or a letter.
    for n in 1..=12 {
        let d: String = (0..n)
            .map(|i| char::from(b'0' + (i * 7 % 10) as u8))
            .collect();
        s.push(format!("{d} a{d} {d}b"));
    }
    s
}

const PROSE: &str = "It was the best of times, it was the worst of times; it was the age of wisdom, \
it was the age of foolishness. We'd've gone further, but the road (they said) wasn't built yet. \
\"Really?\" she asked.  \"Yes -- really,\" he replied, and they'll remember it in 2031, or 2049.\n\n\
Über den Wolken muss die Freiheit wohl grenzenlos sein. À la carte, s'il vous plaît; ¿Dónde está \
la estación? Ça va très bien, merci! Ærøskøbing og Ålborg. Zürich, Kraków, Reykjavík, İstanbul.\n\
Москва — столица России. Το Αιγαίο είναι γαλάζιο. 東京は日本の首都です。北京是中国的首都。\
서울은 한국의 수도입니다. Hà Nội là thủ đô của Việt Nam. กรุงเทพฯ เป็นเมืองหลวง.\n\
Prices: $3.50, €12,99, £7, ¥1000, ₹250 — discounts of 15%–20% (approx.) on 03/04/2025 at 9:30am.\n\
    Indented line with four spaces\n\t\tand two tabs\n      \n\nThe end.   \n";

const CODE: &str = r#"{
  "name": "tinychat", "version": "0.1.0", "tags": ["llm", "wasm"], "nested": {"a": [1, 2.5, -3e-7, null, true]},
  "escaped": "line\nbreak \"quote\" \\ backslash \u00e9"
}
#include <stdio.h>
int main(int argc, char **argv) { for (int i = 0; i < argc; ++i) printf("%s\n", argv[i]); return 0; }
// TODO(someone): fix this -> it's broken!!! ;-) <3 :) :-( =>  !== ?? ?. ... :: ->> <<= >>= **=
const f = async (x) => { await fetch(`/api/${x}?q=${encodeURIComponent("a b")}`); };
SELECT COUNT(*) AS n FROM t GROUP BY k HAVING n > 1; -- comment
$ cargo test --release -- --nocapture 2>&1 | tee log.txt
"#;

#[test]
fn gpt2_vocabulary_matches_tiktoken_r50k() {
    let ours = gpt2();
    assert_eq!(ours.vocab_size(), 50257);
    let reference = tiktoken_rs::r50k_base().expect("tiktoken r50k_base");
    let samples = samples();
    let all = samples.concat();
    eprintln!(
        "{} texts, {} characters in all",
        samples.len(),
        all.chars().count()
    );
    assert!(
        all.chars().count() >= 4000,
        "only {} characters",
        all.chars().count()
    );
    let mut failures = Vec::new();
    for text in samples.iter().chain(std::iter::once(&all)) {
        let want: Vec<u32> = reference.encode_with_special_tokens(text);
        let got = ours.encode(text, false).unwrap();
        if got != want {
            let i = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
            failures.push(format!(
                "{text:?}\n  first difference at token {i}: ours {:?}, tiktoken {:?}",
                &got[i..(i + 5).min(got.len())],
                &want[i..(i + 5).min(want.len())]
            ));
            continue;
        }
        // Decoding gives the text back, in both.
        assert_eq!(ours.decode(&got, false).unwrap(), *text);
        assert_eq!(reference.decode(&want).unwrap(), *text);
    }
    assert!(
        failures.is_empty(),
        "{} of {} texts tokenize differently:\n{}",
        failures.len(),
        samples.len() + 1,
        failures.join("\n")
    );
}

#[test]
fn gpt2_special_token_and_known_ids() {
    let t = gpt2();
    assert_eq!(t.token_to_id("<|endoftext|>"), Some(50256));
    // "Hello world" is [15496, 995] in GPT-2.
    assert_eq!(t.encode("Hello world", false).unwrap(), vec![15496, 995]);
    // skip_special drops <|endoftext|> when decoding.
    let ids = t.encode("Hi<|endoftext|>", false).unwrap();
    assert_eq!(t.decode(&ids, true).unwrap(), "Hi");
}
