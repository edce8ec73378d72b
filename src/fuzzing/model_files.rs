//! The model files' harness: config.json and model.safetensors, as files or structured (a JSON config with boundary values, a valid safetensors file then damaged).

use super::*;

/// config.json and model.safetensors: parsed, checked, loaded (both the inference and the
/// training layouts), and, when they load, run on a few tokens.
pub fn model(data: &[u8]) {
    let (config, weights) = match shape(data, 2) {
        Ok(files) => (text(files[0]), files[1].to_vec()),
        Err(mut inp) => structured_model(&mut inp),
    };
    let path = Path::new("fuzz/model.safetensors");
    if let Ok(cfg) = ModelConfig::from_json_str(&config, "fuzz/config.json") {
        let _ = weights::from_bytes(&weights, &cfg, path);
    }
    let Ok(m) = Model::from_bytes(&config, &weights, "fuzz") else {
        return;
    };
    let v = m.config.vocab_size as u32;
    let tokens: Vec<u32> = weights
        .iter()
        .take(3)
        .map(|&b| b as u32 % (v + 2))
        .collect();
    if m.config.is_classifier() {
        let _ = m.classify(&tokens);
    } else {
        let mut cache = m.new_cache();
        let _ = m.forward(&tokens, &mut cache, Logits::Last);
        let _ = m.forward(&tokens[..tokens.len().min(1)], &mut cache, Logits::All);
    }
}

/// Config fields the loader reads, to be given edge values.
const CONFIG_KEYS: &[&str] = &[
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "n_embd",
    "n_head",
    "n_layer",
    "n_inner",
    "n_positions",
    "layer_norm_epsilon",
    "is_causal",
    "classifier_pooling",
    "problem_type",
    "model_type",
    "hidden_act",
    "rope_scaling",
    "id2label",
];

/// A small valid model of a drawn shape, its safetensors written by tinychat, then damaged:
/// config fields set to edge values, header entries (shape, dtype, offsets, names) changed.
pub(super) fn structured_model(inp: &mut Input) -> (String, Vec<u8>) {
    let family = if inp.bool() {
        Family::Llama
    } else {
        Family::Gpt2
    };
    let n_heads = 1 + inp.below(4);
    let head_dim = 2 * (1 + inp.below(4));
    let n_kv_heads = if family == Family::Llama && inp.bool() {
        1
    } else {
        n_heads
    };
    let labels: Vec<String> = (0..inp.below(3) * 2).map(|i| format!("label{i}")).collect();
    let cfg = ModelConfig {
        family,
        vocab_size: 1 + inp.below(40),
        dim: n_heads * head_dim,
        n_layers: 1 + inp.below(2),
        n_heads,
        n_kv_heads,
        head_dim,
        hidden_dim: 1 + inp.below(24),
        max_seq_len: 1 + inp.below(16),
        norm_eps: 1e-5,
        rope_theta: if family == Family::Llama {
            10000.0
        } else {
            0.0
        },
        tie_embeddings: inp.bool(),
        attn_bias: family == Family::Gpt2 || inp.bool(),
        mlp_bias: family == Family::Gpt2 || inp.bool(),
        bos_token_id: Some(0),
        eos_token_ids: vec![1],
        pad_token_id: None,
        pooling: if labels.is_empty() {
            Pooling::Last
        } else {
            *inp.pick(&[Pooling::Last, Pooling::Max, Pooling::EchoMax])
        },
        causal: true,
        labels,
    };
    let mut config = cfg.to_hf_json();
    for _ in 0..inp.below(4) {
        let key = *inp.pick(CONFIG_KEYS);
        config[key] = edge_value(inp);
    }
    let mut params = Params::zeros(&cfg);
    for (i, x) in params.data.iter_mut().enumerate() {
        *x = ((i * 7919) % 13) as f32 * 0.05 - 0.3;
    }
    let dtype = *inp.pick(&[DType::F32, DType::F16, DType::BF16]);
    let Ok(file) = weights::to_bytes(&params, &cfg, dtype) else {
        return (config.to_string(), vec![]);
    };
    (config.to_string(), damage_safetensors(inp, file))
}

/// Changes entries of a safetensors header (the JSON after the 8-byte length) and writes the
/// file back with a consistent length prefix, or flips bytes anywhere.
pub(super) fn damage_safetensors(inp: &mut Input, mut file: Vec<u8>) -> Vec<u8> {
    for _ in 0..inp.below(4) {
        if file.len() < 8 {
            break;
        }
        let n = u64::from_le_bytes(file[..8].try_into().unwrap_or([0; 8])) as usize;
        let Some(header) = file.get(8..8 + n) else {
            break;
        };
        let Ok(Value::Object(mut h)) = serde_json::from_slice::<Value>(header) else {
            break;
        };
        let data = file[8 + n..].to_vec();
        let names: Vec<String> = h.keys().filter(|k| *k != "__metadata__").cloned().collect();
        if names.is_empty() {
            break;
        }
        let name = inp.pick(&names).clone();
        match inp.below(7) {
            0 => {
                h.remove(&name);
            }
            1 => {
                let t = h.remove(&name).unwrap_or(Value::Null);
                h.insert(format!("{name}{}", inp.text(4)), t);
            }
            2 => h[&name]["shape"] = json!([edge_value(inp), edge_value(inp)]),
            3 => {
                let d = *inp.pick(&[
                    "F32", "F16", "BF16", "F64", "I8", "U8", "BOOL", "F8_E4M3", "x",
                ]);
                h[&name]["dtype"] = json!(d);
            }
            4 => h[&name]["data_offsets"] = json!([edge_value(inp), edge_value(inp)]),
            5 => h[&name]["shape"] = json!([]),
            _ => {
                let i = inp.below(file.len());
                file[i] ^= inp.byte() | 1;
                continue;
            }
        }
        let header = Value::Object(h).to_string().into_bytes();
        file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(&header);
        file.extend_from_slice(&data);
    }
    if inp.bool() {
        let keep = inp.below(file.len() + 1);
        file.truncate(keep);
    }
    file
}

// ---- tokenizer.json -----------------------------------------------------------------------------
