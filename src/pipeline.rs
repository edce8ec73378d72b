//! Answering a prompt the way ChatGPT does (DESIGN.md, "Answering a prompt"):
//!
//! ```text
//! last user message ─► Moderator::check ─ flagged ─► Templates::respond ─► reply (template)
//!                          └ passed ─► ChatModel generates ─► OutputGate (moderates each chunk)
//!                                        ├ chunk flagged ─► stop, Templates::respond ─► reply (template)
//!                                        └ all passed ───► reply (model)
//! ```
//!
//! Streaming: a piece of model text reaches the caller only after the chunk that contains it has
//! passed output moderation; chunks end at sentence boundaries or after a fixed number of
//! characters, and each is checked together with the text released just before it (look-behind
//! context), so harm split across a boundary is still seen.

use crate::chat::{now_ms, ChatModel};
use crate::error::{Error, Result};
use crate::generate::{FinishReason, SamplingParams};
use crate::moderation::{Moderator, Thresholds, Verdict};
use crate::templates::{Stage, Templates};
use crate::tokenizer::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// `pipeline.json` of a pipeline bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Directory of the chat model, relative to the bundle.
    pub chat_model: String,
    /// Directory of the moderation classifier, relative to the bundle.
    pub moderator: String,
    /// Per-category thresholds overriding the classifier's own thresholds.json.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Template overrides, key → minijinja text (see `templates.rs`).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// Prepended as a system message when the conversation has none.
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub moderation: GateConfig,
    /// Default sampling settings of this bundle.
    #[serde(default)]
    pub sampling: SamplingParams,
}

/// How output text is cut into moderated chunks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// A chunk is checked at the latest when it reaches this many characters.
    pub max_chunk_chars: usize,
    /// Characters of already released text checked together with each chunk.
    pub context_chars: usize,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_chunk_chars: 120,
            context_chars: 160,
        }
    }
}

/// Whether the user saw the model's words or a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Model,
    Template,
}

/// Which way the pipeline went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Input passed, output passed: the model answered.
    Model,
    /// The prompt was flagged; the model never ran.
    InputFlagged,
    /// The model's output was flagged mid-stream; the template replaced it.
    OutputFlagged,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    pub input_moderation_ms: f64,
    /// Chat model time, prefill and decode (output moderation excluded).
    pub generation_ms: f64,
    pub output_moderation_ms: f64,
    pub total_ms: f64,
}

/// The answer with its whole trace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub source: Source,
    pub route: Route,
    pub input_verdict: Verdict,
    /// None when the model never ran.
    pub output_verdict: Option<Verdict>,
    /// Category that chose the template, when one answered.
    pub template_category: Option<String>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish_reason: Option<FinishReason>,
    pub timings: Timings,
}

/// What the stream delivers, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Chunk {
    /// Model text that has passed output moderation.
    Text { text: String },
    /// A template answer; `stage` says whether the prompt or the model's output was flagged. When
    /// it follows Text chunks, the model's answer was cut off there and replaced.
    Template {
        text: String,
        stage: Stage,
        verdict: Verdict,
    },
}

/// Holds back model text until it has passed moderation. Reusable by any driver (the async
/// browser engine too): feed it text pieces, it answers with what may be shown.
pub struct OutputGate {
    cfg: GateConfig,
    released: String,
    pending: String,
    verdict: Option<Verdict>,
}

/// What the gate says after a push.
#[derive(Clone, Debug, PartialEq)]
pub enum GateStep {
    /// Nothing new may be shown yet.
    Hold,
    /// This text passed moderation and may be shown.
    Release(String),
    /// The chunk was flagged: stop generating; nothing of the chunk may be shown.
    Flagged(Verdict),
}

impl OutputGate {
    pub fn new(cfg: GateConfig) -> Self {
        OutputGate {
            cfg,
            released: String::new(),
            pending: String::new(),
            verdict: None,
        }
    }

    /// Everything released so far.
    pub fn released(&self) -> &str {
        &self.released
    }
    /// Per-category maximum over every chunk checked so far.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    pub fn push(
        &mut self,
        piece: &str,
        check: &mut dyn FnMut(&str) -> Result<Verdict>,
    ) -> Result<GateStep> {
        self.pending.push_str(piece);
        let cut = match last_boundary(&self.pending) {
            Some(i) => i,
            None if self.pending.chars().count() >= self.cfg.max_chunk_chars => self.pending.len(),
            None => return Ok(GateStep::Hold),
        };
        self.check_and_release(cut, check)
    }

    /// Checks whatever is still held back (the end of the reply).
    pub fn finish(&mut self, check: &mut dyn FnMut(&str) -> Result<Verdict>) -> Result<GateStep> {
        if self.pending.trim().is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.released.push_str(&rest);
            return Ok(if rest.is_empty() {
                GateStep::Hold
            } else {
                GateStep::Release(rest)
            });
        }
        let n = self.pending.len();
        self.check_and_release(n, check)
    }

    fn check_and_release(
        &mut self,
        cut: usize,
        check: &mut dyn FnMut(&str) -> Result<Verdict>,
    ) -> Result<GateStep> {
        let chunk = self.pending[..cut].to_string();
        let ctx = tail_chars(&self.released, self.cfg.context_chars);
        let v = check(&format!("{ctx}{chunk}"))?;
        let merged = match &self.verdict {
            Some(prev) => prev.merge(&v),
            None => v.clone(),
        };
        self.verdict = Some(merged);
        if v.flagged {
            self.pending.clear();
            return Ok(GateStep::Flagged(v));
        }
        self.pending.drain(..cut);
        self.released.push_str(&chunk);
        Ok(GateStep::Release(chunk))
    }
}

/// Byte index just after the last sentence end in `s` (. ! ? followed by whitespace, or a
/// newline), including the whitespace that follows it, if any.
fn last_boundary(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut found = None;
    for i in 0..b.len() {
        let end = match b[i] {
            b'\n' => true,
            b'.' | b'!' | b'?' => b.get(i + 1).is_some_and(|c| c.is_ascii_whitespace()),
            _ => false,
        };
        if end {
            // The whitespace after a sentence end belongs to that sentence.
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            found = Some(j);
        }
    }
    found
}

fn tail_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    if count <= n {
        return s;
    }
    let skip = count - n;
    let idx = s
        .char_indices()
        .nth(skip)
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    &s[idx..]
}

pub struct Pipeline {
    pub chat: ChatModel,
    pub moderator: Moderator,
    pub templates: Templates,
    pub config: PipelineConfig,
}

impl Pipeline {
    /// Loads a bundle directory: pipeline.json, and the chat model and classifier it names.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let cpath = dir.join("pipeline.json");
        let text = std::fs::read_to_string(&cpath).map_err(|e| Error::io(&cpath, e))?;
        let config = Self::parse_config(&text, &cpath.display().to_string())?;
        let chat = ChatModel::load(dir.join(&config.chat_model))?;
        let moderator = Moderator::load(dir.join(&config.moderator))?;
        Self::new(chat, moderator, config)
    }

    /// Parses `pipeline.json` text; `origin` names the file in errors.
    pub fn parse_config(text: &str, origin: &str) -> Result<PipelineConfig> {
        serde_json::from_str(text).map_err(|source| Error::Json {
            path: origin.into(),
            source,
        })
    }

    pub fn new(chat: ChatModel, mut moderator: Moderator, config: PipelineConfig) -> Result<Self> {
        moderator.set_thresholds(&config.thresholds)?;
        let mut templates = Templates::default();
        templates.set_overrides(config.templates.clone())?;
        Ok(Pipeline {
            chat,
            moderator,
            templates,
            config,
        })
    }

    /// Runs the pipeline on a conversation, streaming chunks to `on_chunk`; returns the Reply.
    pub fn reply(
        &self,
        messages: &[Message],
        params: &SamplingParams,
        mut on_chunk: impl FnMut(&Chunk),
    ) -> Result<Reply> {
        let t0 = now_ms();
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .ok_or_else(|| Error::InvalidArgument("the conversation has no user message".into()))?;
        if last_user.content.trim().is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let mut convo = messages.to_vec();
        if let Some(sys) = &self.config.system_prompt {
            if !convo.iter().any(|m| m.role == "system") {
                convo.insert(0, Message::system(sys));
            }
        }
        // Tokenize first: a prompt that cannot fit fails before any model runs.
        let prompt = self.chat.encode_chat(&convo)?;
        if prompt.len() >= self.chat.model.config.max_seq_len {
            return Err(Error::PromptTooLong {
                tokens: prompt.len(),
                context: self.chat.model.config.max_seq_len,
            });
        }

        let input_verdict = self.moderator.check(&last_user.content)?;
        let t_in = now_ms();
        let mut timings = Timings {
            input_moderation_ms: t_in - t0,
            ..Default::default()
        };
        if input_verdict.flagged {
            let text = self.templates.respond(&input_verdict, Stage::Input)?;
            on_chunk(&Chunk::Template {
                text: text.clone(),
                stage: Stage::Input,
                verdict: input_verdict.clone(),
            });
            timings.total_ms = now_ms() - t0;
            return Ok(Reply {
                text,
                source: Source::Template,
                route: Route::InputFlagged,
                template_category: Templates::pick_category(&input_verdict),
                input_verdict,
                output_verdict: None,
                prompt_tokens: prompt.len(),
                completion_tokens: 0,
                finish_reason: None,
                timings,
            });
        }

        let mut gate = OutputGate::new(self.config.moderation.clone());
        let mut mod_ms = 0.0;
        let mut flagged: Option<Verdict> = None;
        let mut failure: Option<Error> = None;
        let mut check = |text: &str| {
            let t = now_ms();
            let v = self.moderator.check(text);
            mod_ms += now_ms() - t;
            v
        };
        let gen = self.chat.generate_tokens(&prompt, params, |piece| {
            match gate.push(piece, &mut check) {
                Ok(GateStep::Hold) => true,
                Ok(GateStep::Release(text)) => {
                    on_chunk(&Chunk::Text { text });
                    true
                }
                Ok(GateStep::Flagged(v)) => {
                    flagged = Some(v);
                    false
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if flagged.is_none() {
            match gate.finish(&mut check)? {
                GateStep::Release(text) => on_chunk(&Chunk::Text { text }),
                GateStep::Flagged(v) => flagged = Some(v),
                GateStep::Hold => {}
            }
        }
        timings.output_moderation_ms = mod_ms;
        timings.generation_ms = (gen.prefill_ms + gen.decode_ms - mod_ms).max(0.0);
        let output_verdict = gate.verdict().cloned();
        let (text, source, route, category) = match &flagged {
            Some(v) => {
                let text = self.templates.respond(v, Stage::Output)?;
                on_chunk(&Chunk::Template {
                    text: text.clone(),
                    stage: Stage::Output,
                    verdict: v.clone(),
                });
                (
                    text,
                    Source::Template,
                    Route::OutputFlagged,
                    Templates::pick_category(v),
                )
            }
            None => (
                gate.released().to_string(),
                Source::Model,
                Route::Model,
                None,
            ),
        };
        timings.total_ms = now_ms() - t0;
        Ok(Reply {
            text,
            source,
            route,
            input_verdict,
            output_verdict,
            template_category: category,
            prompt_tokens: gen.prompt_tokens,
            completion_tokens: gen.tokens.len(),
            finish_reason: Some(gen.finish_reason),
            timings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::CategoryScore;

    fn verdict(flag: bool) -> Verdict {
        Verdict {
            flagged: flag,
            categories: vec![CategoryScore {
                category: "violence".into(),
                score: if flag { 0.9 } else { 0.1 },
                threshold: 0.5,
                flagged: flag,
            }],
        }
    }

    #[test]
    fn gate_releases_whole_sentences_only_after_checking_them() {
        let mut gate = OutputGate::new(GateConfig::default());
        let mut seen = vec![];
        let mut check = |t: &str| {
            seen.push(t.to_string());
            Ok(verdict(false))
        };
        assert_eq!(gate.push("Hello the", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.push("re. How", &mut check).unwrap(),
            GateStep::Release("Hello there. ".into())
        );
        assert_eq!(gate.push(" are you", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.finish(&mut check).unwrap(),
            GateStep::Release("How are you".into())
        );
        // the second check saw the first sentence as look-behind context
        assert_eq!(seen, vec!["Hello there. ", "Hello there. How are you"]);
    }

    #[test]
    fn gate_never_releases_a_flagged_chunk() {
        let mut gate = OutputGate::new(GateConfig::default());
        let mut check = |t: &str| Ok(verdict(t.contains("bad")));
        assert!(matches!(
            gate.push("Fine. ", &mut check).unwrap(),
            GateStep::Release(_)
        ));
        assert_eq!(gate.push("Now bad", &mut check).unwrap(), GateStep::Hold);
        assert!(matches!(
            gate.push(" stuff. ", &mut check).unwrap(),
            GateStep::Flagged(_)
        ));
        assert_eq!(gate.released(), "Fine. ");
        assert!(gate.verdict().unwrap().flagged);
    }

    #[test]
    fn gate_cuts_long_text_without_sentence_ends() {
        let cfg = GateConfig {
            max_chunk_chars: 10,
            context_chars: 4,
        };
        let mut gate = OutputGate::new(cfg);
        let mut check = |_: &str| Ok(verdict(false));
        assert_eq!(gate.push("abcdefghi", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.push("jk", &mut check).unwrap(),
            GateStep::Release("abcdefghijk".into())
        );
        assert_eq!(tail_chars("héllo wörld", 5), "wörld");
    }
}
