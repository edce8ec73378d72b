//! Evaluation of trained models, apart from the training that calls some of it: `tinychat eval
//! chat` ([`chat`]), `tinychat eval reward` ([`reward`]), `tinychat eval moderation`
//! ([`moderation`]), and the moderation classifier's threshold calibration ([`calibrate`]),
//! which the training stage runs on the validation split.

pub mod calibrate;
pub mod chat;
pub mod moderation;
pub mod reward;

/// Precision, recall and F1 from counts (0 where undefined).
pub fn prf(tp: usize, fp: usize, fneg: usize) -> (f32, f32, f32) {
    let p = if tp + fp > 0 {
        tp as f32 / (tp + fp) as f32
    } else {
        0.0
    };
    let r = if tp + fneg > 0 {
        tp as f32 / (tp + fneg) as f32
    } else {
        0.0
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}
