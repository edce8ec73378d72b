//! Chat templates rendered by minijinja against transformers' `apply_chat_template` outputs
//! (tests/fixtures/chat_template/cases.json, made by tests/fixtures/generate.py).

use serde::Deserialize;
use tinychat::{ChatTemplate, Message};

#[derive(Deserialize)]
struct Case {
    name: String,
    template: String,
    messages: Vec<Message>,
    add_generation_prompt: bool,
    bos_token: String,
    eos_token: String,
    expected: Option<String>,
    expected_error: Option<String>,
}

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[test]
fn chat_templates_match_transformers() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/chat_template/cases.json"
    );
    let text = std::fs::read_to_string(path).expect("read cases.json");
    let cases: Cases = serde_json::from_str(&text).expect("parse cases.json");
    assert!(cases.cases.len() >= 10, "too few cases in {path}");
    let mut failures = Vec::new();
    for case in &cases.cases {
        let t = ChatTemplate::new(&case.template, Some(&case.bos_token), Some(&case.eos_token));
        let got = t.render(&case.messages, case.add_generation_prompt);
        match (&case.expected, &case.expected_error, got) {
            (Some(want), _, Ok(got)) if &got == want => {}
            (Some(want), _, got) => failures.push(format!(
                "{}:\n  expected {want:?}\n  got      {got:?}",
                case.name
            )),
            (None, Some(msg), Err(e)) => {
                // The error is exactly the template's raise_exception message.
                if e.to_string() != format!("chat template: {msg}") {
                    failures.push(format!(
                        "{}: expected the error {msg:?}, got {e}",
                        case.name
                    ));
                }
            }
            (None, Some(msg), Ok(got)) => failures.push(format!(
                "{}: expected the error {msg:?}, but it rendered {got:?}",
                case.name
            )),
            (None, None, _) => panic!("case {} has neither expected nor expected_error", case.name),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from transformers:\n{}\n---> HINT: the fixtures come from tests/fixtures/generate.py",
        failures.len(),
        cases.cases.len(),
        failures.join("\n")
    );
}

#[test]
fn template_errors_are_clear() {
    let t = ChatTemplate::new("{% for m in messages %}{{ m.content ", None, None);
    let err = t.render(&[Message::user("hi")], true).unwrap_err();
    assert!(
        err.to_string().contains("cannot parse the template"),
        "{err}"
    );
    let err =
        ChatTemplate::from_tokenizer_config(r#"{"bos_token": "<s>"}"#, "cfg.json").unwrap_err();
    assert!(err.to_string().contains("no chat_template"), "{err}");
}

#[test]
fn chat_template_list_and_added_token_objects() {
    let cfg = r#"{
        "chat_template": [
            {"name": "tool_use", "template": "TOOLS"},
            {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}
        ],
        "bos_token": {"content": "<s>", "lstrip": false},
        "eos_token": "</s>"
    }"#;
    let t = ChatTemplate::from_tokenizer_config(cfg, "cfg.json").unwrap();
    assert_eq!(
        t.render(&[Message::user("hi")], false).unwrap(),
        "<s>hi</s>"
    );
}
