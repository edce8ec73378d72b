//! Sampling and the generation loop.
//!
//! Generation is a small state machine, [`Generator`]: it says which tokens to feed next and
//! turns logits into the next token. The forward pass itself stays with the caller, so the same
//! logic drives the synchronous CPU engine and the asynchronous GPU engine in the browser.
//!
//! Logits processors run in transformers' order: repetition penalty, temperature, top-k, top-p.

use crate::error::{Error, Result};

/// xoshiro256** seeded through splitmix64: small, fast, and the same sequence on every platform.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }
    /// The four words of state (the GPU sampler continues the same sequence from them).
    pub fn state(&self) -> [u64; 4] {
        self.s
    }
    /// Fisher–Yates in place, from the last element down (the order every trainer here uses).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }
    /// Uniform in [0, 1) with 24 bits of precision.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

/// The most new tokens one generation may ask for: the longest context a model may have
/// (`config::LIMITS.max_position_embeddings`); the context ends generation sooner anyway.
pub const MAX_NEW_TOKENS: usize = crate::config::LIMITS.max_position_embeddings;

/// How to pick tokens. `Default` is greedy decoding of up to 256 tokens.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// 0 means greedy (argmax).
    pub temperature: f32,
    /// Keep the k most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p; 1.0 keeps all.
    pub top_p: f32,
    /// > 1 discourages tokens already in the prompt or output (CTRL / transformers rule:
    /// positive logits are divided by it, negative ones multiplied).
    pub repetition_penalty: f32,
    pub seed: u64,
    pub max_new_tokens: usize,
    /// Generation ends after any of these tokens (the token is not part of the text).
    pub stop_tokens: Vec<u32>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            seed: 0,
            max_new_tokens: 256,
            stop_tokens: vec![],
        }
    }
}

impl SamplingParams {
    /// Sampling defaults from `generation_config.json`, if the model has one. As in transformers,
    /// sampling is on only when it sets `do_sample: true`; then its temperature, top_k (default 50,
    /// transformers' default) and top_p apply. Native only: it reads a file (in the browser
    /// the page passes its sampling options itself).
    pub fn from_generation_config(model_dir: &std::path::Path) -> Result<SamplingParams> {
        if model_dir.is_file() {
            // A single-file model (GGUF) has no generation_config.json.
            return Ok(SamplingParams::default());
        }
        let path = model_dir.join("generation_config.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_generation_config_json(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SamplingParams::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// [`Self::from_generation_config`] on the text of the file; `path` names it in errors. Each
    /// field must be a number of the right kind and range: `max_new_tokens` and `top_k` whole
    /// numbers (1e30 used to become usize::MAX and wrap), the others finite.
    pub fn from_generation_config_json(
        text: &str,
        path: impl Into<std::path::PathBuf>,
    ) -> Result<SamplingParams> {
        let path = path.into();
        let mut p = SamplingParams::default();
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Json {
            path: path.clone(),
            source: e,
        })?;
        let bad = |msg: String| Error::Config {
            path: path.clone(),
            msg,
        };
        let num = |k: &str| -> Result<Option<f64>> {
            match v.get(k) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(x) => x
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .map(Some)
                    .ok_or_else(|| bad(format!("{k} must be a number, got {x}"))),
            }
        };
        let whole = |k: &str, lo: u64, hi: u64| -> Result<Option<usize>> {
            match v.get(k) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(x) => x
                    .as_u64()
                    .filter(|n| (lo..=hi).contains(n))
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| {
                        bad(format!(
                            "{k} must be a whole number from {lo} to {hi}, got {x}"
                        ))
                    }),
            }
        };
        if v.get("do_sample").and_then(serde_json::Value::as_bool) == Some(true) {
            p.temperature = num("temperature")?.unwrap_or(1.0) as f32;
            p.top_k = whole("top_k", 0, u32::MAX as u64)?.unwrap_or(50);
            p.top_p = num("top_p")?.unwrap_or(1.0) as f32;
        }
        if let Some(r) = num("repetition_penalty")? {
            p.repetition_penalty = r as f32;
        }
        if let Some(n) = whole("max_new_tokens", 1, MAX_NEW_TOKENS as u64)? {
            p.max_new_tokens = n;
        }
        p.validate().map_err(|e| bad(e.to_string()))?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgument(m.into()));
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature must be a finite number ≥ 0 (0 = greedy)");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p must be in (0, 1]");
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return bad("repetition_penalty must be a positive number (1 = off)");
        }
        if !(1..=MAX_NEW_TOKENS).contains(&self.max_new_tokens) {
            return Err(Error::InvalidArgument(format!(
                "max_new_tokens must be from 1 to {MAX_NEW_TOKENS} (the longest context tinychat accepts), got {}",
                self.max_new_tokens
            )));
        }
        Ok(())
    }
}

/// Picks the next token from `logits` (V), which it modifies in place.
pub fn sample(logits: &mut [f32], p: &SamplingParams, history: &[u32], rng: &mut Rng) -> u32 {
    if p.repetition_penalty != 1.0 {
        let mut seen = history.to_vec();
        seen.sort_unstable();
        seen.dedup();
        for &id in &seen {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = if *l > 0.0 {
                    *l / p.repetition_penalty
                } else {
                    *l * p.repetition_penalty
                };
            }
        }
    }
    if p.temperature == 0.0 {
        return argmax(logits);
    }
    // Candidates sorted by logit, best first; ties keep the lower id first, so runs repeat.
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    idx.sort_by(|&a, &b| {
        logits[b as usize]
            .partial_cmp(&logits[a as usize])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    if p.top_k > 0 && p.top_k < idx.len() {
        idx.truncate(p.top_k);
    }
    let inv_t = 1.0 / p.temperature;
    let max = logits[idx[0] as usize] * inv_t;
    let mut probs: Vec<f32> = idx
        .iter()
        .map(|&i| (logits[i as usize] * inv_t - max).exp())
        .collect();
    let sum: f32 = probs.iter().sum();
    probs.iter_mut().for_each(|x| *x /= sum);
    if p.top_p < 1.0 {
        let mut cum = 0.0;
        let mut keep = probs.len();
        for (i, &q) in probs.iter().enumerate() {
            cum += q;
            if cum >= p.top_p {
                keep = i + 1;
                break;
            }
        }
        probs.truncate(keep);
        idx.truncate(keep);
    }
    let total: f32 = probs.iter().sum();
    let mut r = rng.uniform() * total;
    for (i, &q) in probs.iter().enumerate() {
        r -= q;
        if r < 0.0 {
            return idx[i];
        }
    }
    *idx.last().expect("at least one candidate")
}

/// Index of the largest value; the first one on ties (as torch.argmax).
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A stop token was produced.
    Stop,
    /// max_new_tokens was reached, or the context is full.
    Length,
}

/// The generation state machine; see the module docs.
pub struct Generator {
    params: SamplingParams,
    rng: Rng,
    /// Prompt and generated tokens.
    history: Vec<u32>,
    prompt_len: usize,
    /// Tokens not yet fed to the model.
    pending: Vec<u32>,
    max_total: usize,
    finished: Option<FinishReason>,
}

impl Generator {
    /// `context` is the model's maximum sequence length. An empty prompt or one that leaves no
    /// room for a single new token is an error; output stops with `Length` when the context fills.
    pub fn new(prompt: &[u32], params: SamplingParams, context: usize) -> Result<Self> {
        params.validate()?;
        if prompt.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        if prompt.len() >= context {
            return Err(Error::PromptTooLong {
                tokens: prompt.len(),
                context,
            });
        }
        let max_total = prompt
            .len()
            .saturating_add(params.max_new_tokens)
            .min(context);
        Ok(Generator {
            rng: Rng::new(params.seed),
            params,
            history: prompt.to_vec(),
            prompt_len: prompt.len(),
            pending: prompt.to_vec(),
            max_total,
            finished: None,
        })
    }

    /// Tokens the caller must run through the model next (empty once finished).
    pub fn take_input(&mut self) -> Vec<u32> {
        if self.finished.is_some() {
            return vec![];
        }
        std::mem::take(&mut self.pending)
    }

    /// Feeds the logits (V) of the last position; returns the new token, or None when finished
    /// (a stop token, which is not returned, or the length limit).
    pub fn push_logits(&mut self, logits: &mut [f32]) -> Option<u32> {
        if self.finished.is_some() {
            return None;
        }
        if self.history.len() >= self.max_total {
            self.finished = Some(FinishReason::Length);
            return None;
        }
        let tok = sample(logits, &self.params, &self.history, &mut self.rng);
        self.accept(tok)
    }

    /// Takes a token that was sampled elsewhere (by the GPU sampler, from the same RNG state,
    /// history and parameters) as [`Self::push_logits`] takes its own: the RNG advances as
    /// `sample` would have advanced it, so the CPU can take over at any token.
    pub fn push_sampled(&mut self, tok: u32) -> Option<u32> {
        if self.finished.is_some() {
            return None;
        }
        if self.history.len() >= self.max_total {
            self.finished = Some(FinishReason::Length);
            return None;
        }
        if self.params.temperature != 0.0 {
            self.rng.uniform();
        }
        self.accept(tok)
    }

    fn accept(&mut self, tok: u32) -> Option<u32> {
        if self.params.stop_tokens.contains(&tok) {
            self.finished = Some(FinishReason::Stop);
            return None;
        }
        self.history.push(tok);
        if self.history.len() >= self.max_total {
            self.finished = Some(FinishReason::Length);
        } else {
            self.pending = vec![tok];
        }
        Some(tok)
    }

    pub fn finished(&self) -> Option<FinishReason> {
        self.finished
    }
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }
    /// The RNG as the next sampled token will find it.
    pub fn rng(&self) -> &Rng {
        &self.rng
    }
    /// Prompt and generated tokens (what the repetition penalty looks at).
    pub fn history(&self) -> &[u32] {
        &self.history
    }
    /// Tokens still to sample before the length limit (0 once finished).
    pub fn remaining(&self) -> usize {
        match self.finished {
            Some(_) => 0,
            None => self.max_total - self.history.len(),
        }
    }
    pub fn generated(&self) -> &[u32] {
        &self.history[self.prompt_len..]
    }
    pub fn prompt_len(&self) -> usize {
        self.prompt_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax_and_ties_take_the_first() {
        let mut l = vec![0.1, 3.0, 3.0, -1.0];
        assert_eq!(
            sample(&mut l, &SamplingParams::default(), &[], &mut Rng::new(0)),
            1
        );
    }

    #[test]
    fn repetition_penalty_follows_transformers() {
        // positive logits are divided, negative ones multiplied
        let mut l = vec![2.0, -1.0, 1.9];
        let p = SamplingParams {
            repetition_penalty: 2.0,
            ..Default::default()
        };
        let t = sample(&mut l, &p, &[0, 1], &mut Rng::new(0));
        assert_eq!(l, vec![1.0, -2.0, 1.9]);
        assert_eq!(t, 2);
    }

    #[test]
    fn top_k_one_is_greedy_and_seeds_repeat() {
        let logits: Vec<f32> = (0..50).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let p = SamplingParams {
            temperature: 1.0,
            top_k: 1,
            ..Default::default()
        };
        let mut l = logits.clone();
        assert_eq!(sample(&mut l, &p, &[], &mut Rng::new(5)), argmax(&logits));
        let p = SamplingParams {
            temperature: 0.8,
            top_p: 0.9,
            seed: 7,
            ..Default::default()
        };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..20)
                .map(|_| sample(&mut logits.clone(), &p, &[], &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // probabilities ≈ [0.64, 0.24, 0.09, 0.03]: top_p 0.5 keeps only the first
        let logits = vec![3.0, 2.0, 1.0, 0.0];
        let p = SamplingParams {
            temperature: 1.0,
            top_p: 0.5,
            ..Default::default()
        };
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            assert_eq!(sample(&mut logits.clone(), &p, &[], &mut rng), 0);
        }
    }

    #[test]
    fn a_huge_max_new_tokens_is_refused_not_wrapped() {
        // usize::MAX used to wrap prompt + max_new_tokens to a small number: nothing generated.
        let p = SamplingParams {
            max_new_tokens: usize::MAX,
            ..Default::default()
        };
        let e = Generator::new(&[1, 2], p, 16).err().unwrap().to_string();
        assert!(e.contains("max_new_tokens"), "{e}");
        for text in [
            r#"{"max_new_tokens": 1e30}"#,
            r#"{"max_new_tokens": 18446744073709551615}"#,
            r#"{"max_new_tokens": -1}"#,
            r#"{"max_new_tokens": 0}"#,
            r#"{"max_new_tokens": 2.5}"#,
            r#"{"do_sample": true, "top_k": 1e30}"#,
            r#"{"do_sample": true, "temperature": "hot"}"#,
            r#"{"repetition_penalty": 0}"#,
        ] {
            let e = SamplingParams::from_generation_config_json(text, "g.json")
                .err()
                .unwrap_or_else(|| panic!("{text} was accepted"))
                .to_string();
            assert!(e.starts_with("g.json: "), "{e}");
        }
        let p =
            SamplingParams::from_generation_config_json(r#"{"max_new_tokens": 7}"#, "g").unwrap();
        assert_eq!(p.max_new_tokens, 7);
    }

    #[test]
    fn generator_rejects_empty_and_too_long_prompts() {
        let p = SamplingParams::default();
        assert!(matches!(
            Generator::new(&[], p.clone(), 16),
            Err(Error::EmptyPrompt)
        ));
        assert!(matches!(
            Generator::new(&[1; 16], p, 16),
            Err(Error::PromptTooLong {
                tokens: 16,
                context: 16
            })
        ));
    }
}
