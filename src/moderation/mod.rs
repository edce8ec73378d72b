//! Content moderation: text normalisation, the classifier and (under `train`) its data.

pub mod normalize;
