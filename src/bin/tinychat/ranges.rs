//! Value parsers for numeric flags: every number a command takes has a range, and a value
//! outside it is a usage error (clap's: exit status 2) that names the flag and the range
//! (docs/limits.md). Shared by the CLI's modules and by examples/train_cli.rs, which includes
//! the training ones.

use clap::builder::RangedU64ValueParser;

/// Counts that may be large but not absurd: steps, examples, intervals.
pub const MANY: u64 = u32::MAX as u64;

/// The longest context tinychat accepts (config::LIMITS).
pub const CONTEXT: u64 = tinychat::config::LIMITS.max_position_embeddings as u64;

/// A whole-number flag in `lo..=hi`.
pub fn count(lo: u64, hi: u64) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(lo..=hi)
}

/// A whole-number `u64` flag in `lo..=hi`.
pub fn count_u64(lo: u64, hi: u64) -> RangedU64ValueParser<u64> {
    RangedU64ValueParser::<u64>::new().range(lo..=hi)
}

/// A whole-number `u32` flag in `lo..=hi`.
pub fn count_u32(lo: u64, hi: u64) -> RangedU64ValueParser<u32> {
    RangedU64ValueParser::<u32>::new().range(lo..=hi)
}

/// A finite number flag in `[lo, hi]` (`(lo, hi]` when `lo_included` is false).
pub fn number(
    lo: f32,
    hi: f32,
    lo_included: bool,
) -> impl Fn(&str) -> std::result::Result<f32, String> + Clone + Send + Sync + 'static {
    interval(lo, hi, lo_included, true)
}

/// A finite number flag in `[lo, hi)`: Adam's betas, probabilities that must leave something.
pub fn below(
    lo: f32,
    hi: f32,
) -> impl Fn(&str) -> std::result::Result<f32, String> + Clone + Send + Sync + 'static {
    interval(lo, hi, true, false)
}

fn interval(
    lo: f32,
    hi: f32,
    lo_included: bool,
    hi_included: bool,
) -> impl Fn(&str) -> std::result::Result<f32, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        let x: f32 = s
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a number"))?;
        let above = if lo_included { x >= lo } else { x > lo };
        let under = if hi_included { x <= hi } else { x < hi };
        if x.is_finite() && above && under {
            Ok(x)
        } else {
            Err(format!(
                "{s} is not in {}{lo}, {hi}{}",
                if lo_included { "[" } else { "(" },
                if hi_included { "]" } else { ")" }
            ))
        }
    }
}
