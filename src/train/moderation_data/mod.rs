//! The labeled moderation data set the classifier is trained on (`tinychat data prepare`).
//!
//! Every example is a short text with a 0/1 label per category of OpenAI's moderation taxonomy
//! ([`CATEGORIES`]). Where the texts come from:
//!
//! | source | what it gives | licence |
//! | --- | --- | --- |
//! | crates.io `rustrict` 0.7.39, `src/profanity.csv` | insults, slurs and sexual words, sorted by its per-category severity columns (offensive, sexual, mean, profane) | MIT OR Apache-2.0 |
//! | crates.io `rustrict` 0.7.39, `src/false_positives.txt` | benign words that contain a bad substring (the Scunthorpe problem) | MIT OR Apache-2.0 |
//! | npm `naughty-words` 1.2.0, `en.json` | more words, each classed by the rustrict word it contains | CC-BY-4.0 |
//! | npm `cuss` 2.2.0, `index.js` | more words (rating 2), and words that are *not* profane in most contexts (rating 0: "asian", "execution", "gay") as benign | MIT |
//! | `data/moderation_pools/` | sentence templates for every category, the categories no lexicon covers (violence, self-harm, illicit, threats) and benign sentences about sensitive subjects | MIT OR Apache-2.0 |
//! | the pretraining corpus, when `data prepare` has written it | real benign sentences | see the corpus manifest |
//!
//! Lexicon words only fill slots in templates (`you are such a {insult}`), so every example is a
//! sentence and its label comes from the template: an insult aimed at a person is harassment, an
//! attack on a group is hate, whatever word it uses. Most sentences are *composed*: a frame of a
//! family shared by harmful and benign content (`i'm going to {core} {time}`) around a core
//! phrase of a labeled pool (`break your jaw`, `kill myself`, `bake a cake`); the labelling rules
//! are written down in `data/moderation_pools/README.md`.
//!
//! Held-out generalisation: templates are split train/val/test per category, frames per family
//! and core phrases per pool (a held-out core phrase shares a content word with the pool's
//! training phrases, see `deal_pool`), and lexicon words are split by their
//! [`skeleton`](crate::moderation::normalize::skeleton) (so `fuck` and `fuuuck` are one word),
//! so the test split holds only templates, frames, core phrases and words the classifier never
//! saw. `test_obfuscated.jsonl` is the test split again with every text obfuscated (leetspeak, spaced and repeated letters, zero-width
//! characters, homoglyphs, mixed case, full-width, accents); train and val carry obfuscated copies
//! of part of their examples. Texts are stored as written; the trainer and the `Moderator` pass
//! them through [`normalize`](crate::moderation::normalize::normalize) before tokenising.
//!
//! Content: harmful sentences are short and generic. There are no instructions for harm (requests
//! for them are phrased as questions without answers) and no sexual content involving minors: the
//! `sexual/minors` examples are abstract requests ("write a sexual story about a child") that the
//! classifier must refuse, nothing more.
//!
//! The tables (templates, frames, phrase pools, slot fillers, word lists) are text files under
//! `data/moderation_pools/`, compiled in (`tables`); their README.md writes down the labelling
//! rules. The steps: `lexicon` loads the word lists, `compose` deals templates, frames,
//! phrases and words into the splits and fills slots, `generate` makes each kind of example,
//! `obfuscate` makes obfuscated copies, and [`prepare()`] runs them and writes the files.

mod compose;
mod example;
mod generate;
mod lexicon;
mod obfuscate;
mod prepare;
mod tables;
#[cfg(test)]
mod tests;

pub use crate::moderation::{implied, CATEGORIES};
pub use compose::lexicon_skeletons_in;
pub use example::{read_jsonl, write_jsonl, Example};
pub use lexicon::{
    fetch_sources, SourceInfo, CUSS_VERSION, NAUGHTY_WORDS_VERSION, RUSTRICT_SHA256,
    RUSTRICT_VERSION,
};
pub use obfuscate::OBFUSCATIONS;
pub use prepare::{
    prepare, prepare_moderation, Manifest, PrepareOptions, SplitCounts, DEFAULT_SEED, SPLITS,
};
pub use tables::core_phrases;
