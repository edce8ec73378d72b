//! `tinychat train tokenizer`: a byte-level BPE (GPT-2 style: every byte is a symbol, so any
//! text encodes without unknown tokens) trained with the tokenizers crate's `BpeTrainer`, with
//! the special tokens the ChatML chat format needs.

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use std::path::{Path, PathBuf};
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    TokenizerBuilder,
};

/// Special tokens, in id order 0, 1, 2: end of text (document separator, also BOS/EOS of the
/// base model) and ChatML's message delimiters.
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// The ChatML template (as SmolLM2-Instruct and Qwen use) written into tokenizer_config.json.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// `tinychat train tokenizer`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TokenizerOptions {
    /// Prepared corpus directory (its train.jsonl is read), or a text / JSONL file. Default
    /// data/corpus.
    pub data: PathBuf,
    /// Vocabulary size, special tokens and the 256 byte symbols included. Default 4096.
    pub vocab_size: usize,
    /// Minimum count of a pair before it is merged. Default 2.
    pub min_frequency: u64,
    /// Output directory (tokenizer.json and tokenizer_config.json). Default data/tokenizer.
    pub out: PathBuf,
}

impl Default for TokenizerOptions {
    fn default() -> Self {
        TokenizerOptions {
            data: "data/corpus".into(),
            vocab_size: 4096,
            min_frequency: 2,
            out: "data/tokenizer".into(),
        }
    }
}

/// A tokenizer directory as the stages read it: tokenizer.json (its bytes, hashed into
/// checkpoints, and parsed) and tokenizer_config.json (ChatML's when the file is absent).
pub struct TokenizerFiles {
    pub json: Vec<u8>,
    pub tokenizer: Tokenizer,
    pub config: serde_json::Value,
}

/// Reads the tokenizer in `dir`; a missing tokenizer.json is an error that ends with `hint`.
pub fn read_tokenizer_dir(dir: &Path, hint: &str) -> Result<TokenizerFiles> {
    let tok_path = dir.join("tokenizer.json");
    let json = std::fs::read(&tok_path)
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}; {hint}", tok_path.display())))?;
    let tokenizer = Tokenizer::from_bytes(&json)?;
    let cfg_path = dir.join("tokenizer_config.json");
    let config = match std::fs::read_to_string(&cfg_path) {
        Ok(t) => serde_json::from_str(&t).map_err(|source| Error::Json {
            path: cfg_path.clone(),
            source,
        })?,
        Err(_) => tokenizer_config_json(),
    };
    Ok(TokenizerFiles {
        json,
        tokenizer,
        config,
    })
}

/// The corpus file a `--data` argument names: a prepared directory's train.jsonl, or the path.
pub fn train_file(data: &Path) -> PathBuf {
    if data.is_dir() {
        data.join("train.jsonl")
    } else {
        data.to_path_buf()
    }
}

/// Trains the tokenizer on `docs` and returns it.
pub fn train_bpe(
    texts: &[String],
    vocab_size: usize,
    min_frequency: u64,
) -> Result<tokenizers::Tokenizer> {
    if vocab_size < 256 + SPECIAL_TOKENS.len() + 1 {
        return Err(Error::InvalidArgument(format!(
            "--vocab-size {vocab_size} is too small: a byte-level BPE needs at least {} (256 bytes + special tokens + 1 merge)",
            256 + SPECIAL_TOKENS.len() + 1
        )));
    }
    let specials: Vec<AddedToken> = SPECIAL_TOKENS
        .iter()
        .map(|s| AddedToken::from(*s, true))
        .collect();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(min_frequency)
        .show_progress(false)
        .special_tokens(specials.clone())
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut tk = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >::new()
    .with_model(BPE::default())
    .with_normalizer(None)
    .with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false).into()))
    .with_post_processor(Some(ByteLevel::default().trim_offsets(false).into()))
    .with_decoder(Some(ByteLevel::default().into()))
    .build()
    .map_err(|e| Error::Tokenizer(e.to_string()))?;
    tk.train(&mut trainer, texts.iter())
        .map_err(|e| Error::Tokenizer(format!("training failed: {e}")))?;
    tk.add_special_tokens(specials)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    Ok(tokenizers::Tokenizer::from(tk))
}

/// tokenizer_config.json for a ChatML model: the template, and which tokens are BOS/EOS.
pub fn tokenizer_config_json() -> serde_json::Value {
    serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": SPECIAL_TOKENS[0],
        "eos_token": SPECIAL_TOKENS[2],
        "pad_token": SPECIAL_TOKENS[0],
        "unk_token": null,
        "model_max_length": 1_000_000_000,
        "add_bos_token": false,
        "chat_template": CHATML_TEMPLATE,
    })
}

/// `tinychat train tokenizer`.
pub fn run(args: &TokenizerOptions) -> Result<()> {
    let file = train_file(&args.data);
    let docs = super::data::read_corpus(&file)?;
    let texts: Vec<String> = docs.into_iter().map(|d| d.text).collect();
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    eprintln!(
        "training a {}-token byte-level BPE on {} documents ({:.1} MB) from {}",
        args.vocab_size,
        texts.len(),
        bytes as f64 / 1e6,
        file.display()
    );
    let t0 = std::time::Instant::now();
    let tk = train_bpe(&texts, args.vocab_size, args.min_frequency)?;
    let json = tk
        .to_string(false)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    crate::io::write_atomic(&args.out.join("tokenizer.json"), json.as_bytes())?;
    crate::io::write_json_atomic(
        &args.out.join("tokenizer_config.json"),
        &tokenizer_config_json(),
    )?;
    // Report compression on a sample, a quick sanity check of the merges.
    let sample: String = texts
        .iter()
        .take(20)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let n = tk
        .encode(sample.as_str(), false)
        .map_err(|e| Error::Tokenizer(e.to_string()))?
        .len();
    eprintln!(
        "wrote {} (vocab {}, {:.2} bytes/token on a sample) in {:.1}s",
        args.out.join("tokenizer.json").display(),
        tk.get_vocab_size(true),
        sample.len() as f64 / n.max(1) as f64,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
