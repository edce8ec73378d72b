//! Template responses: what the user sees instead of the model when moderation flags the prompt
//! or the reply. One minijinja template per category, plus one for flagged model output; a page
//! or user overrides any of them with JSON. Self-harm gets a supportive answer that points to
//! help, never a bare refusal.

use crate::error::{Error, Result};
use crate::jinja::Sandbox;
use crate::moderation::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Where the flag came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Input,
    Output,
}

/// When several categories flag, the first in this list answers: the most urgent (a person who
/// may be at risk) before the most severe harms, before the rest.
pub const PRIORITY: &[&str] = &[
    "self-harm/intent",
    "self-harm/instructions",
    "self-harm",
    "sexual/minors",
    "hate/threatening",
    "harassment/threatening",
    "violence/graphic",
    "violence",
    "illicit/violent",
    "illicit",
    "hate",
    "harassment",
    "sexual",
];

const SELF_HARM: &str = "I'm really sorry you're going through this. You don't have to face it alone, \
and talking to someone can help right now. If you are in immediate danger, please call your local \
emergency number. You can reach a crisis line any time: in the US call or text 988 (Suicide & Crisis \
Lifeline), in the UK and Ireland call Samaritans on 116 123, or find a helpline in your country at \
findahelpline.com. If you'd like, tell me a bit more about what's been happening — I'm here to listen.";

fn builtin() -> BTreeMap<String, String> {
    let t = |s: &str| s.to_string();
    BTreeMap::from([
        (t("self-harm"), t(SELF_HARM)),
        (t("self-harm/intent"), t(SELF_HARM)),
        (t("self-harm/instructions"), t(SELF_HARM)),
        (t("harassment"), t("I'd rather not continue in that direction: it reads as insulting or demeaning toward someone. I'm happy to help if you'd like to rephrase, or to talk about something else.")),
        (t("harassment/threatening"), t("I can't help with threatening someone. If you're in a conflict that feels unsafe, consider reaching out to someone you trust or to local authorities. I'm glad to help with something else.")),
        (t("hate"), t("I can't help with content that demeans people for who they are. If you're interested in the topic itself — its history or how to counter it — I'm happy to help with that.")),
        (t("hate/threatening"), t("I can't help with threats against any group of people. If you or someone else is in danger, please contact local emergency services.")),
        (t("sexual"), t("I keep conversations here free of sexual content. I'm happy to help with something else.")),
        (t("sexual/minors"), t("I can't help with that. If a child is at risk, please contact local authorities or a child-protection hotline.")),
        (t("violence"), t("I can't help with hurting people or animals. If someone is in danger, please contact local emergency services. I'm glad to help with something else.")),
        (t("violence/graphic"), t("I'd rather not describe graphic violence. I'm happy to help with something else.")),
        (t("illicit"), t("I can't help with that, since it could be illegal or cause harm. If you'd like, I can help with a lawful alternative.")),
        (t("illicit/violent"), t("I can't help with obtaining or making weapons or planning violence. I'm glad to help with something else.")),
        (t("output"), t("I started writing an answer that didn't meet my content guidelines, so I stopped. Could you rephrase your question, or ask about something else?")),
        (t("default"), t("I can't help with that request ({{ category }}). I'm happy to help with something else.")),
    ])
}

/// The template set. Keys are category names, `output` (flagged model output, used when no more
/// specific template exists) and `default`. Templates see `category` (the answering category),
/// `categories` (all flagged, parents implied by a flagged sub-category included), `stage`
/// ("input" or "output") and `score`.
#[derive(Clone, Debug)]
pub struct Templates {
    templates: BTreeMap<String, String>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            templates: builtin(),
        }
    }
}

impl Templates {
    /// The built-in templates with `overrides` (a JSON object: key → template text) on top.
    pub fn with_overrides_json(json: &str) -> Result<Self> {
        let over: BTreeMap<String, String> = serde_json::from_str(json).map_err(|e| {
            Error::Template(format!(
                "template overrides must be a JSON object of strings ({{\"self-harm\": \"...\"}}): {e}"
            ))
        })?;
        let mut t = Self::default();
        t.set_overrides(over)?;
        Ok(t)
    }

    /// Replaces templates by key; each one is checked now (parsed, and measured against the
    /// limits of [`crate::jinja`]) so a bad override fails early.
    pub fn set_overrides(&mut self, over: BTreeMap<String, String>) -> Result<()> {
        for (k, v) in over {
            sandbox()
                .check(&v)
                .map_err(|e| Error::Template(format!("override for {k:?}: {e}")))?;
            self.templates.insert(k, v);
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.templates.get(key).map(String::as_str)
    }

    /// The answering category for a verdict: the first flagged one in [`PRIORITY`], else the
    /// flagged one with the highest score (categories outside the list), else None. Only the
    /// categories flagged by their own scores take part: a parent flagged because a
    /// sub-category implies it (`implied_by`) adds nothing the sub-category does not say, and
    /// leaving it out keeps the answer what the thresholds alone would choose.
    pub fn pick_category(verdict: &Verdict) -> Option<String> {
        let own = || {
            verdict
                .categories
                .iter()
                .filter(|c| c.flagged && c.implied_by.is_none())
        };
        if let Some(p) = PRIORITY.iter().find(|p| own().any(|c| c.category == **p)) {
            return Some(p.to_string());
        }
        own()
            .max_by(|a, b| {
                a.score
                    .total_cmp(&b.score)
                    .then(b.category.cmp(&a.category))
            })
            .map(|c| c.category.clone())
    }

    /// The response text for a flagged verdict.
    pub fn respond(&self, verdict: &Verdict, stage: Stage) -> Result<String> {
        let category = Self::pick_category(verdict).unwrap_or_else(|| "default".into());
        // Output flags use the "output" template unless the category deserves its own answer
        // even there (self-harm keeps its supportive message).
        let key = if stage == Stage::Output && !category.starts_with("self-harm") {
            "output".to_string()
        } else if self.templates.contains_key(&category) {
            category.clone()
        } else if let Some(parent) = category
            .split('/')
            .next()
            .filter(|p| self.templates.contains_key(*p))
        {
            parent.to_string()
        } else {
            "default".to_string()
        };
        let text = self
            .templates
            .get(&key)
            .or_else(|| self.templates.get("default"));
        let text =
            text.ok_or_else(|| Error::Template(format!("no template for {key:?} and no default")))?;
        let score = verdict.score(&category).unwrap_or(0.0);
        sandbox()
            .render(
                text,
                minijinja::context! {
                    category => category,
                    categories => verdict.flagged_categories(),
                    stage => stage,
                    score => score,
                },
            )
            .map_err(|e| Error::Template(format!("template {key:?}: {e}")))
    }
}

/// Response templates render as minijinja renders by default (no block trimming, no
/// auto-escaping), with tinychat's limits.
fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(false, minijinja::escape_formatter, |_| {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::CategoryScore;

    fn verdict(flags: &[(&str, f32, bool)]) -> Verdict {
        let categories: Vec<CategoryScore> = flags
            .iter()
            .map(|&(c, s, f)| CategoryScore {
                category: c.into(),
                score: s,
                threshold: 0.5,
                flagged: f,
                implied_by: None,
            })
            .collect();
        Verdict {
            flagged: categories.iter().any(|c| c.flagged),
            categories,
        }
    }

    #[test]
    fn several_flags_pick_by_priority_not_by_score() {
        let v = verdict(&[
            ("violence", 0.99, true),
            ("self-harm", 0.6, true),
            ("hate", 0.1, false),
        ]);
        assert_eq!(Templates::pick_category(&v).as_deref(), Some("self-harm"));
        let t = Templates::default().respond(&v, Stage::Input).unwrap();
        assert!(t.contains("988") && t.contains("alone"), "{t}");
    }

    #[test]
    fn implied_parents_do_not_change_the_answering_category() {
        // illicit/violent alone flags; violence (before it in PRIORITY) is only implied, so
        // the sub-category's own answer is given, as it was before parents were implied.
        let v = Verdict::from_scores([
            ("violence".to_string(), 0.2, 0.5),
            ("illicit".to_string(), 0.3, 0.5),
            ("illicit/violent".to_string(), 0.8, 0.5),
        ]);
        assert_eq!(
            v.flagged_categories(),
            ["violence", "illicit", "illicit/violent"]
        );
        assert_eq!(
            Templates::pick_category(&v).as_deref(),
            Some("illicit/violent")
        );
        let t = Templates::default().respond(&v, Stage::Input).unwrap();
        assert!(t.contains("weapons"), "{t}");
        // violence over its own threshold: it answers, by priority.
        let v = Verdict::from_scores([
            ("violence".to_string(), 0.9, 0.5),
            ("illicit/violent".to_string(), 0.8, 0.5),
        ]);
        assert_eq!(Templates::pick_category(&v).as_deref(), Some("violence"));
    }

    #[test]
    fn output_flags_use_the_output_template_except_self_harm() {
        let t = Templates::default();
        let v = verdict(&[("violence", 0.9, true)]);
        assert!(t.respond(&v, Stage::Output).unwrap().contains("stopped"));
        let v = verdict(&[("self-harm", 0.9, true)]);
        assert!(t.respond(&v, Stage::Output).unwrap().contains("988"));
    }

    #[test]
    fn overrides_replace_templates_and_bad_ones_fail_early() {
        let t = Templates::with_overrides_json(r#"{"violence": "No ({{ category }})."}"#).unwrap();
        let v = verdict(&[("violence", 0.9, true)]);
        assert!(t
            .respond(&v, Stage::Input)
            .unwrap()
            .starts_with("No (violence"));
        let e = Templates::with_overrides_json(r#"{"hate": "{% if %}"}"#).unwrap_err();
        assert!(e.to_string().contains("\"hate\""), "{e}");
        let e = Templates::with_overrides_json(r#"["not", "an object"]"#).unwrap_err();
        assert!(e.to_string().contains("JSON object"), "{e}");
    }

    #[test]
    fn unknown_subcategory_falls_back_to_its_parent() {
        let v = verdict(&[("harassment/new-kind", 0.9, true)]);
        let t = Templates::default().respond(&v, Stage::Input).unwrap();
        assert!(t.contains("insulting"), "{t}");
    }
}
