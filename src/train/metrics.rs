//! The JSONL metrics log and the loss-curve image of a training run.
//!
//! `metrics.jsonl` holds one JSON object per line: training steps
//! `{"step", "loss", "lr", "grad_norm", "tokens", "tok_per_s", "elapsed_s"}` and evaluations
//! `{"step", "val_loss"}`. `loss.png` plots training loss (blue) and validation loss (red,
//! with dots) against step; the y axis runs from 0 (bottom) to the largest loss, the faint
//! horizontal lines mark every whole nat, and the dashed grey line is the corpus's unigram
//! entropy when known. (plotters is built without a font engine, so the image has no text.)
//!
//! Stages with several curves of different units (PPO: reward, KL, value loss, entropy) use
//! [`plot_series`]: each series in its own colour ([`SERIES_COLOURS`], in order), the y axis
//! from min(0, smallest value) to the largest, a black line at y = 0.

use crate::error::{Error, Result};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// Opens `path` for appending; lines of steps after `keep_until` (an earlier run that went
    /// further than the checkpoint being resumed) are dropped, so the log matches the weights.
    pub fn open(path: &Path, keep_until: Option<u64>) -> Result<Self> {
        if let Some(k) = keep_until {
            if let Ok(text) = std::fs::read_to_string(path) {
                let kept: String = text
                    .lines()
                    .filter(|l| {
                        serde_json::from_str::<Value>(l)
                            .ok()
                            .and_then(|v| v["step"].as_u64())
                            .is_some_and(|s| s <= k)
                    })
                    .map(|l| format!("{l}\n"))
                    .collect();
                crate::io::write_atomic(path, kept.as_bytes())?;
            }
        } else if path.exists() {
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        }
        Ok(MetricsLog {
            path: path.to_path_buf(),
        })
    }

    pub fn write(&mut self, v: &Value) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        writeln!(f, "{v}").map_err(|e| Error::io(&self.path, e))
    }
}

/// (step, value) points of a curve.
pub type Curve = Vec<(f64, f64)>;

/// (step, loss) of training steps and (step, val_loss) of evaluations in the log at `path`.
pub fn read_curves(path: &Path) -> Result<(Curve, Curve)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (mut train, mut val) = (vec![], vec![]);
    for l in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        let Some(s) = v["step"].as_f64() else {
            continue;
        };
        if let Some(x) = v["loss"].as_f64() {
            train.push((s, x));
        }
        if let Some(x) = v["val_loss"].as_f64() {
            val.push((s, x));
        }
    }
    Ok((train, val))
}

/// Draws the loss curves into a PNG (see the module comment for the legend).
pub fn plot(
    path: &Path,
    train: &[(f64, f64)],
    val: &[(f64, f64)],
    entropy: Option<f64>,
) -> Result<()> {
    use plotters::prelude::*;
    let err = |e: String| Error::Other(format!("{}: plot: {e}", path.display()));
    let max_x = train.iter().chain(val).map(|p| p.0).fold(1.0, f64::max);
    let max_y = train
        .iter()
        .chain(val)
        .map(|p| p.1)
        .chain(entropy)
        .fold(1.0, f64::max)
        * 1.05;
    {
        let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let area = root.margin(20, 20, 20, 20);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(0.0..max_x, 0.0..max_y)
            .map_err(|e| err(e.to_string()))?;
        for n in 1..=(max_y as usize) {
            let y = n as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, y), (max_x, y)],
                    RGBColor(225, 225, 225),
                )))
                .map_err(|e| err(e.to_string()))?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (0.0, max_y)],
                BLACK,
            )))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (max_x, 0.0)],
                BLACK,
            )))
            .map_err(|e| err(e.to_string()))?;
        if let Some(h) = entropy {
            let dashes: Vec<_> = (0..40)
                .map(|i| {
                    let x0 = max_x * i as f64 / 40.0;
                    PathElement::new(
                        vec![(x0, h), (x0 + max_x / 80.0, h)],
                        RGBColor(120, 120, 120),
                    )
                })
                .collect();
            chart.draw_series(dashes).map_err(|e| err(e.to_string()))?;
        }
        chart
            .draw_series(LineSeries::new(train.iter().copied(), BLUE.stroke_width(1)))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(val.iter().copied(), RED.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(val.iter().map(|&p| Circle::new(p, 4, RED.filled())))
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// Colours of [`plot_series`]'s series, in order: blue, red, green, grey, orange, purple.
pub const SERIES_COLOURS: [(u8, u8, u8); 6] = [
    (0, 0, 255),
    (255, 0, 0),
    (0, 160, 0),
    (120, 120, 120),
    (255, 140, 0),
    (140, 0, 200),
];

/// (step, value) of each key in `keys`, from the lines of a metrics log that have it.
pub fn read_series(path: &Path, keys: &[&str]) -> Result<Vec<Vec<(f64, f64)>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = vec![vec![]; keys.len()];
    for l in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        let Some(s) = v["step"].as_f64() else {
            continue;
        };
        for (k, o) in keys.iter().zip(out.iter_mut()) {
            if let Some(x) = v[*k].as_f64().filter(|x| x.is_finite()) {
                o.push((s, x));
            }
        }
    }
    Ok(out)
}

/// Draws several curves into one PNG (see the module comment).
pub fn plot_series(path: &Path, series: &[Vec<(f64, f64)>]) -> Result<()> {
    use plotters::prelude::*;
    let err = |e: String| Error::Other(format!("{}: plot: {e}", path.display()));
    let pts = || series.iter().flatten();
    let max_x = pts().map(|p| p.0).fold(1.0, f64::max);
    let hi = pts().map(|p| p.1).fold(1.0, f64::max);
    let lo = pts().map(|p| p.1).fold(0.0, f64::min);
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - if lo < 0.0 { pad } else { 0.0 }, hi + pad);
    {
        let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let area = root.margin(20, 20, 20, 20);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(0.0..max_x, lo..hi)
            .map_err(|e| err(e.to_string()))?;
        for (a, b) in [((0.0, lo), (0.0, hi)), ((0.0, 0.0), (max_x, 0.0))] {
            chart
                .draw_series(std::iter::once(PathElement::new(vec![a, b], BLACK)))
                .map_err(|e| err(e.to_string()))?;
        }
        for (i, s) in series.iter().enumerate() {
            let (r, g, b) = SERIES_COLOURS[i % SERIES_COLOURS.len()];
            chart
                .draw_series(LineSeries::new(
                    s.iter().copied(),
                    RGBColor(r, g, b).stroke_width(2),
                ))
                .map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}
