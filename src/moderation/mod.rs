//! Content moderation: text normalisation, the classifier and (under `train`) its data.

pub mod classifier;
pub mod normalize;

#[cfg(feature = "train")]
pub mod data;

pub use classifier::{sigmoid, CategoryScore, Moderator, Thresholds, Verdict};

/// The categories tinychat's classifier is trained on, after OpenAI's moderation taxonomy.
pub const CATEGORIES: &[&str] = &[
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
    "illicit",
    "illicit/violent",
];
