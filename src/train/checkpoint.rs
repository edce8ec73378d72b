//! Training checkpoints: a Hugging Face-style model directory that the inference engine loads
//! (`Model::load`, `ChatModel::load`), plus what an exact resume needs.
//!
//! ```text
//! <run>/checkpoint/   config.json  model.safetensors  tokenizer.json  tokenizer_config.json
//!                     generation_config.json           (the model, loadable by transformers too)
//!                     optimizer.safetensors            AdamW moments m, v (flat, parameter layout)
//!                     trainer_state.json               step, data position, settings, AdamW step
//! ```
//!
//! Writes are atomic at the directory level: everything goes into `<run>/.checkpoint.tmp/`
//! (each file fsynced, trainer_state.json last), then the old directory is renamed aside, the
//! new one renamed into place, and the old one removed. trainer_state.json is the marker of a
//! complete copy: written last when a copy is saved, deleted first (and the deletion fsynced)
//! when one is removed. A complete copy exists at every crash point: `load` reads the first of
//! `checkpoint/`, `.checkpoint.tmp/` (staged, not swapped in) and `.checkpoint.old/` (swapped
//! out) that is complete, and `save` first puts such a copy in place when `checkpoint/` is not
//! complete, so it never deletes the only one.

use super::optim::{AdamW, AdamWConfig};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::params::Params;
use crate::weights::DType;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const DIR: &str = "checkpoint";

/// What is saved besides the weights.
pub struct Checkpoint {
    pub config: ModelConfig,
    pub params: Params,
    pub adam_m: Vec<f32>,
    pub adam_v: Vec<f32>,
    pub adam_step: u64,
    /// trainer_state.json: step, data position, the run's settings.
    pub state: Value,
}

impl Checkpoint {
    /// Refuses to resume from a run made with other stage settings (or, when `config` is given,
    /// another model config), printing both settings so the user sees which flag changed.
    pub fn check_settings<S>(
        &self,
        run: &Path,
        settings: &S,
        config: Option<&ModelConfig>,
    ) -> Result<()>
    where
        S: serde::Serialize + serde::de::DeserializeOwned + PartialEq,
    {
        let saved: S = serde_json::from_value(self.state["settings"].clone()).map_err(|e| {
            Error::InvalidArgument(format!(
                "--resume: trainer_state.json has no valid settings for this stage: {e}"
            ))
        })?;
        if saved != *settings || config.is_some_and(|c| *c != self.config) {
            // Name the settings that differ (top-level keys), then show both in full.
            let (a, b) = (
                serde_json::to_value(&saved).unwrap_or_default(),
                serde_json::to_value(settings).unwrap_or_default(),
            );
            let mut differ: Vec<String> = match (a.as_object(), b.as_object()) {
                (Some(a), Some(b)) => a
                    .keys()
                    .chain(b.keys().filter(|k| !a.contains_key(*k)))
                    .filter(|k| a.get(*k) != b.get(*k))
                    .cloned()
                    .collect(),
                _ => vec![],
            };
            if config.is_some_and(|c| *c != self.config) {
                differ.push("the model config".into());
            }
            return Err(Error::InvalidArgument(format!(
                "--resume: the checkpoint in {} was trained with other settings ({}):\n  checkpoint: {}\n  this run:   {}\nresume with the same flags, or start a new --out",
                run.display(),
                if differ.is_empty() {
                    "see below".to_string()
                } else {
                    format!("{} differ", differ.join(", "))
                },
                a,
                b
            )));
        }
        Ok(())
    }

    /// The optimizer as it was saved: AdamW with `cfg` and the checkpoint's moments and step.
    pub fn take_adamw(&mut self, cfg: AdamWConfig) -> AdamW {
        let mut opt = AdamW::new(&self.params.layout, cfg);
        opt.m = std::mem::take(&mut self.adam_m);
        opt.v = std::mem::take(&mut self.adam_v);
        opt.step = self.adam_step;
        opt
    }

    /// The data position saved in trainer_state.json: (epoch, cursor).
    pub fn data_position(&self) -> (u64, usize) {
        (
            self.state["epoch"].as_u64().unwrap_or(0),
            self.state["cursor"].as_u64().unwrap_or(0) as usize,
        )
    }

    /// Optimizer steps taken when the checkpoint was written.
    pub fn step(&self) -> usize {
        self.state["step"].as_u64().unwrap_or(0) as usize
    }
}

/// The checkpoint directory of a run.
pub fn dir_of(run: &Path) -> PathBuf {
    run.join(DIR)
}

const TMP: &str = ".checkpoint.tmp";
const OLD: &str = ".checkpoint.old";
/// The file whose presence makes a checkpoint directory complete (see the module's doc).
const MARKER: &str = "trainer_state.json";

fn complete(dir: &Path) -> bool {
    dir.join(MARKER).is_file()
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Deletes a checkpoint directory, its marker first, so that a crash midway leaves a directory
/// that no longer looks complete. Not a directory (a file in the way): left for the caller.
fn remove_copy(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    match std::fs::remove_file(dir.join(MARKER)) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(dir.join(MARKER), e)),
    }
    std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// The complete copy of `run`'s checkpoint a resume reads: `checkpoint/`, else the one a crash
/// left mid-swap (the staged new one, then the previous one).
fn complete_copy(run: &Path) -> Option<PathBuf> {
    [dir_of(run), run.join(TMP), run.join(OLD)]
        .into_iter()
        .find(|d| complete(d))
}

/// Whether `run` has a checkpoint to resume from (after any crash).
pub fn exists(run: &Path) -> bool {
    complete_copy(run).is_some()
}

fn optimizer_bytes(m: &[f32], v: &[f32]) -> Result<Vec<u8>> {
    use safetensors::tensor::{Dtype, TensorView};
    let mb: Vec<u8> = m.iter().flat_map(|x| x.to_le_bytes()).collect();
    let vb: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let views = vec![
        (
            "adam.m".to_string(),
            TensorView::new(Dtype::F32, vec![m.len()], &mb)
                .map_err(|e| Error::Other(e.to_string()))?,
        ),
        (
            "adam.v".to_string(),
            TensorView::new(Dtype::F32, vec![v.len()], &vb)
                .map_err(|e| Error::Other(e.to_string()))?,
        ),
    ];
    safetensors::serialize(views, None::<HashMap<String, String>>)
        .map_err(|e| Error::Other(format!("safetensors: {e}")))
}

/// Writes the checkpoint of `run` atomically (see the module comment).
#[allow(clippy::too_many_arguments)]
pub fn save(
    run: &Path,
    config: &ModelConfig,
    params: &Params,
    opt: &AdamW,
    state: &Value,
    tokenizer_json: &[u8],
    tokenizer_config: &Value,
) -> Result<()> {
    std::fs::create_dir_all(run).map_err(|e| Error::io(run, e))?;
    let tmp = run.join(TMP);
    let old = run.join(OLD);
    let dst = dir_of(run);
    // A crash may have left the only complete copy beside checkpoint/: put it in place first.
    if !complete(&dst) {
        if let Some(copy) = [&tmp, &old].into_iter().find(|d| complete(d)) {
            remove_copy(&dst)?;
            std::fs::rename(copy, &dst).map_err(|e| Error::io(&dst, e))?;
            sync_dir(run);
        }
    }
    // Now checkpoint/ is complete (or there is no complete copy at all): the rest can go.
    remove_copy(&old)?;
    remove_copy(&tmp)?;
    if !complete(&dst) {
        remove_copy(&dst)?;
    }
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    crate::io::write_json_atomic(&tmp.join("config.json"), &config.to_hf_json())?;
    crate::weights::save(params, config, tmp.join("model.safetensors"), DType::F32)?;
    crate::io::write_atomic(&tmp.join("tokenizer.json"), tokenizer_json)?;
    crate::io::write_json_atomic(&tmp.join("tokenizer_config.json"), tokenizer_config)?;
    let mut gen = serde_json::Map::new();
    if let Some(b) = config.bos_token_id {
        gen.insert("bos_token_id".into(), b.into());
    }
    gen.insert("eos_token_id".into(), config.eos_token_ids.clone().into());
    gen.insert("do_sample".into(), true.into());
    gen.insert("temperature".into(), 0.8.into());
    gen.insert("top_k".into(), 50.into());
    crate::io::write_json_atomic(&tmp.join("generation_config.json"), &Value::Object(gen))?;
    crate::io::write_atomic(
        &tmp.join("optimizer.safetensors"),
        &optimizer_bytes(&opt.m, &opt.v)?,
    )?;
    let mut state = state.clone();
    state["adam_step"] = opt.step.into();
    // The marker, last: from here on the staged copy is complete.
    crate::io::write_json_atomic(&tmp.join(MARKER), &state)?;
    // The swap: at every point one of checkpoint/, .checkpoint.tmp/ is complete.
    if dst.exists() {
        std::fs::rename(&dst, &old).map_err(|e| Error::io(&dst, e))?;
    }
    std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    sync_dir(run);
    remove_copy(&old)
}

/// Loads the checkpoint of `run`: `checkpoint/`, or the complete copy an interrupted save left
/// (see the module's doc). When `checkpoint/` is complete, what an interrupted save or removal
/// left beside it is removed (a finished run killed during its last cleanup left
/// `.checkpoint.old` behind).
pub fn load(run: &Path) -> Result<Checkpoint> {
    let dir = complete_copy(run).unwrap_or_else(|| dir_of(run));
    if dir == dir_of(run) && complete(&dir) {
        let _ = remove_copy(&run.join(OLD));
        let _ = remove_copy(&run.join(TMP));
    }
    let state_path = dir.join(MARKER);
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: state_path.clone(),
        source,
    })?;
    let config = ModelConfig::from_file(dir.join("config.json"))?;
    let (params, _) = crate::weights::load(dir.join("model.safetensors"), &config)?;
    let opath = dir.join("optimizer.safetensors");
    let bytes = std::fs::read(&opath).map_err(|e| Error::io(&opath, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
        path: opath.clone(),
        msg: e.to_string(),
    })?;
    let read = |name: &str| -> Result<Vec<f32>> {
        let t = st.tensor(name).map_err(|e| Error::Safetensors {
            path: opath.clone(),
            msg: e.to_string(),
        })?;
        let v: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if v.len() != params.data.len() {
            return Err(Error::Safetensors {
                path: opath.clone(),
                msg: format!(
                    "{name} has {} values but the model has {} parameters",
                    v.len(),
                    params.data.len()
                ),
            });
        }
        Ok(v)
    };
    let (adam_m, adam_v) = (read("adam.m")?, read("adam.v")?);
    let adam_step = state["adam_step"].as_u64().unwrap_or(0);
    Ok(Checkpoint {
        config,
        params,
        adam_m,
        adam_v,
        adam_step,
        state,
    })
}
