//! The output gate: model text reaches the user only after the chunk that holds it has passed
//! moderation. Chunks end at sentence boundaries, or at a word boundary once they hold
//! `max_chunk_chars` characters (so a reply streams a few words at a time, not a sentence at a
//! time). Each chunk is checked twice: on its own, so a harmless lead-in cannot dilute it ("Here
//! is the plan you asked for. Tonight I will kill you."), and with the text released just before
//! it (look-behind context), so harm split across a boundary is still seen. Either view flagging
//! flags the chunk.

use crate::error::Result;
use crate::moderation::Verdict;
use serde::{Deserialize, Serialize};

/// How output text is cut into moderated chunks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// A chunk is checked at the latest when it reaches this many characters: cut after its
    /// last whole word (mid-word only when one word is longer). Small values stream in smaller
    /// steps and cost a moderator check each (about 16 ms in the browser's CPU engine for the
    /// default bundle's classifier and 200 characters); the default, 32, is a few words.
    pub max_chunk_chars: usize,
    /// Characters of already released text checked together with each chunk.
    pub context_chars: usize,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_chunk_chars: 32,
            context_chars: 160,
        }
    }
}

/// Holds back model text until it has passed moderation. Reusable by any driver (the async
/// browser engine too): feed it text pieces, it answers with what may be shown. [`Self::push`]
/// and [`Self::finish`] take a blocking check; a driver that awaits its moderator uses
/// [`Self::offer`] / [`Self::offer_end`] and [`Self::resolve`].
pub struct OutputGate {
    cfg: GateConfig,
    released: String,
    pending: String,
    verdict: Option<Verdict>,
    /// Bytes of `pending` handed out for checking by the last offer, awaiting [`Self::resolve`].
    cut: Option<usize>,
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

/// What the gate needs after an offer.
#[derive(Clone, Debug, PartialEq)]
pub enum GateOffer {
    /// Nothing to check: this is the step.
    Step(GateStep),
    /// Check these texts (the chunk alone, then look-behind context + chunk when there is
    /// context) and pass their merged verdict ([`merge_views`]) to [`OutputGate::resolve`].
    Check(Vec<String>),
}

impl OutputGate {
    pub fn new(cfg: GateConfig) -> Self {
        OutputGate {
            cfg,
            released: String::new(),
            pending: String::new(),
            verdict: None,
            cut: None,
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
        let offer = self.offer(piece);
        self.settle(offer, check)
    }

    /// Checks whatever is still held back (the end of the reply).
    pub fn finish(&mut self, check: &mut dyn FnMut(&str) -> Result<Verdict>) -> Result<GateStep> {
        let offer = self.offer_end();
        self.settle(offer, check)
    }

    fn settle(
        &mut self,
        offer: GateOffer,
        check: &mut dyn FnMut(&str) -> Result<Verdict>,
    ) -> Result<GateStep> {
        match offer {
            GateOffer::Step(step) => Ok(step),
            GateOffer::Check(texts) => {
                match texts.iter().map(|t| check(t)).collect::<Result<Vec<_>>>() {
                    Ok(vs) => Ok(self.resolve(merge_views(vs))),
                    Err(e) => {
                        self.abandon();
                        Err(e)
                    }
                }
            }
        }
    }

    /// Adds a piece of model text; a chunk is complete at a sentence end, or after its last
    /// whole word once it holds more than `max_chunk_chars` characters.
    pub fn offer(&mut self, piece: &str) -> GateOffer {
        assert!(
            self.cut.is_none(),
            "resolve the last check before offering more text"
        );
        self.pending.push_str(piece);
        let cut = match last_boundary(&self.pending) {
            Some(i) => i,
            None if self.pending.chars().count() > self.cfg.max_chunk_chars => {
                last_word_end(&self.pending).unwrap_or(self.pending.len())
            }
            None => return GateOffer::Step(GateStep::Hold),
        };
        self.check_text(cut)
    }

    /// The end of the reply: whatever is still held back. Trailing whitespace alone is
    /// released unchecked.
    pub fn offer_end(&mut self) -> GateOffer {
        assert!(self.cut.is_none(), "resolve the last check before ending");
        if self.pending.trim().is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.released.push_str(&rest);
            return GateOffer::Step(if rest.is_empty() {
                GateStep::Hold
            } else {
                GateStep::Release(rest)
            });
        }
        self.check_text(self.pending.len())
    }

    fn check_text(&mut self, cut: usize) -> GateOffer {
        self.cut = Some(cut);
        let ctx = tail_chars(&self.released, self.cfg.context_chars);
        let chunk = &self.pending[..cut];
        let mut texts = vec![chunk.to_string()];
        if !ctx.trim().is_empty() {
            texts.push(format!("{ctx}{chunk}"));
        }
        GateOffer::Check(texts)
    }

    /// Gives up the check of the last [`GateOffer::Check`] (it failed): the chunk stays held
    /// back, nothing of it is released, and the next offer checks it again with what follows.
    pub fn abandon(&mut self) {
        self.cut = None;
    }

    /// The verdict on the text of the last [`GateOffer::Check`]: releases the chunk, or drops it
    /// when flagged.
    pub fn resolve(&mut self, v: Verdict) -> GateStep {
        let cut = self.cut.take().expect("resolve follows a GateOffer::Check");
        let merged = match &self.verdict {
            Some(prev) => prev.merge(&v),
            None => v.clone(),
        };
        self.verdict = Some(merged);
        if v.flagged {
            self.pending.clear();
            return GateStep::Flagged(v);
        }
        let chunk: String = self.pending.drain(..cut).collect();
        self.released.push_str(&chunk);
        GateStep::Release(chunk)
    }
}

/// One verdict from the verdicts of a chunk's views: each category's highest score, flagged
/// when any view flagged it.
pub fn merge_views(vs: Vec<Verdict>) -> Verdict {
    let mut it = vs.into_iter();
    let first = it.next().expect("a check has at least one view");
    it.fold(first, |a, b| a.merge(&b))
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

/// Byte index just after the whitespace that follows the last whole word of `s` ("Paris is" →
/// after "Paris "), when a word ends before the last one; None for one word alone.
fn last_word_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut found = None;
    let mut seen_word = false;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if seen_word && j < b.len() {
                found = Some(j);
            }
            i = j;
        } else {
            seen_word = true;
            i += 1;
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
                implied_by: None,
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
        // the second chunk was checked alone and with the first sentence as look-behind context
        assert_eq!(
            seen,
            vec!["Hello there. ", "How are you", "Hello there. How are you"]
        );
    }

    /// The awaitable form: offer hands out the text to check, resolve takes its verdict; a failed
    /// check is abandoned and the chunk is checked again with what follows.
    #[test]
    fn gate_offers_checks_and_takes_verdicts_back() {
        let mut gate = OutputGate::new(GateConfig::default());
        assert_eq!(gate.offer("Hi the"), GateOffer::Step(GateStep::Hold));
        let GateOffer::Check(text) = gate.offer("re. Next") else {
            panic!("a sentence end asks for a check")
        };
        assert_eq!(text, ["Hi there. "]);
        gate.abandon();
        assert_eq!(gate.released(), "", "an abandoned check releases nothing");
        let GateOffer::Check(text) = gate.offer(" one. And") else {
            panic!("a check")
        };
        assert_eq!(
            text,
            ["Hi there. Next one. "],
            "checked again with what followed"
        );
        assert_eq!(
            gate.resolve(verdict(false)),
            GateStep::Release("Hi there. Next one. ".into())
        );
        let GateOffer::Check(text) = gate.offer_end() else {
            panic!("the tail is checked")
        };
        assert_eq!(text, ["And", "Hi there. Next one. And"]);
        assert!(matches!(gate.resolve(verdict(true)), GateStep::Flagged(_)));
        assert_eq!(gate.released(), "Hi there. Next one. ");
        assert_eq!(gate.offer_end(), GateOffer::Step(GateStep::Hold));
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

    /// Past `max_chunk_chars`, a chunk ends after its last whole word: the word still being
    /// written stays held back.
    #[test]
    fn gate_cuts_long_text_after_whole_words() {
        let cfg = GateConfig {
            max_chunk_chars: 8,
            context_chars: 4,
        };
        let mut gate = OutputGate::new(cfg);
        let mut check = |_: &str| Ok(verdict(false));
        assert_eq!(gate.push("The", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(gate.push(" capi", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.push("tal of", &mut check).unwrap(),
            GateStep::Release("The capital ".into())
        );
        assert_eq!(gate.push(" Fra", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.push("nce is", &mut check).unwrap(),
            GateStep::Release("of France ".into())
        );
        assert_eq!(
            gate.push(" Paris.", &mut check).unwrap(),
            GateStep::Release("is ".into())
        );
        assert_eq!(
            gate.finish(&mut check).unwrap(),
            GateStep::Release("Paris.".into())
        );
        assert_eq!(gate.released(), "The capital of France is Paris.");
        assert_eq!(last_word_end("  lead"), None);
        assert_eq!(last_word_end("one"), None);
        assert_eq!(last_word_end("one two"), Some(4));
        assert_eq!(last_word_end("one\ntwo three"), Some(8));
    }

    /// The two lead-in cases, with a moderator that (like a real one diluted by a
    /// harmless lead-in) flags the threat only when it makes up most of the text checked: the
    /// chunk alone catches it, the context view alone would not.
    #[test]
    fn a_harmless_lead_in_does_not_dilute_the_chunk_after_it() {
        for (lead, harm) in [
            (
                "Here is the plan you asked for. ",
                "Tonight I will kill you and your whole family.",
            ),
            (
                "Thanks for asking about the weather in Paris today. ",
                "I hope you die.",
            ),
        ] {
            let mut gate = OutputGate::new(GateConfig::default());
            let mut check = |t: &str| {
                let harmful = t.contains("kill you") || t.contains("hope you die");
                Ok(verdict(
                    harmful && t.len() < 2 * lead.len().min(harm.len()) + 8,
                ))
            };
            assert!(matches!(
                gate.push(lead, &mut check).unwrap(),
                GateStep::Release(_)
            ));
            let step = gate.push(harm, &mut check).unwrap();
            let step = match step {
                GateStep::Hold => gate.finish(&mut check).unwrap(),
                s => s,
            };
            assert!(
                matches!(step, GateStep::Flagged(_)),
                "{lead}{harm}: {step:?}"
            );
            assert_eq!(gate.released(), lead);
            // The context view on its own would have let it through.
            assert!(!check(&format!("{lead}{harm}")).unwrap().flagged);
        }
    }
}
