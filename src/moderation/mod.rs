//! Content moderation: text normalisation and the classifier. The labeled data it is trained on
//! is made by `tinychat::train::moderation_data` (feature `train`).

pub mod blocks_gguf;
pub mod classifier;
pub mod head;
pub mod low_rank;
pub mod normalize;

pub use classifier::{sigmoid, CategoryScore, Moderator, Thresholds, Verdict};

/// The categories tinychat's classifier is trained on, after OpenAI's moderation taxonomy. A
/// sub-category implies its parent (see [`implied`]).
pub const CATEGORIES: [&str; 13] = [
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

/// The categories a label implies besides itself: a sub-category its parent; threats and
/// requests for violent means also violence (any content about physically harming people is
/// violence, whatever else it is). The data sets these parents on every example, and a
/// [`Verdict`] flags them whenever the sub-category flags, so the two always agree.
pub fn implied(category: &str) -> &'static [&'static str] {
    match category {
        "harassment/threatening" => &["harassment", "violence"],
        "hate/threatening" => &["hate", "violence"],
        "self-harm/intent" | "self-harm/instructions" => &["self-harm"],
        "sexual/minors" => &["sexual"],
        "violence/graphic" => &["violence"],
        "illicit/violent" => &["illicit", "violence"],
        _ => &[],
    }
}
