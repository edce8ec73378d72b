//! The JSONL metrics log and the loss-curve image of a training run.
//!
//! `metrics.jsonl` holds one JSON object per line: training steps
//! `{"step", "loss", "lr", "grad_norm", "tokens", "tok_per_s", "elapsed_s"}` and evaluations
//! `{"step", "val_loss"}`. `loss.png` plots training loss (blue) and validation loss (red,
//! with dots) against step; the y axis runs from 0 (bottom) to the largest loss, and the dashed
//! grey line is the corpus's unigram entropy when known.
//!
//! Stages with several curves of different units (PPO: reward, KL, value loss, entropy) use
//! [`plot_series`]: each series in its own colour ([`SERIES_COLOURS`], in order), the y axis
//! from min(0, smallest value) to the largest, a black line at y = 0.
//!
//! Every plot has a title, axis labels and a legend, all given by the caller ([`PlotText`],
//! series names). The text is drawn with Open Sans (Apache-2.0, `assets/fonts/`), embedded in
//! the binary and registered with plotters' `ab_glyph` font engine, so it needs no system fonts.

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

/// The words of a plot: its title and its axes' labels (units included, e.g. "loss (nats per
/// token)").
#[derive(Clone, Copy, Debug)]
pub struct PlotText<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    /// [`plot_series`]: each series' name in the legend, with its unit (the series share one
    /// axis). [`plot`] names its own curves and ignores this.
    pub series: &'a [&'a str],
}

/// The words of each stage's plot, passed by the stage to [`plot`] or [`plot_series`].
pub mod text {
    use super::PlotText;

    pub const PRETRAIN: PlotText = PlotText {
        title: "Pretraining",
        x: "step",
        y: "cross-entropy (nats per token)",
        series: &[],
    };
    pub const SFT: PlotText = PlotText {
        title: "Supervised fine-tuning (SFT)",
        x: "step",
        y: "cross-entropy on assistant tokens (nats per token)",
        series: &[],
    };
    pub const REWARD: PlotText = PlotText {
        title: "Reward model",
        x: "step",
        y: "Bradley–Terry loss (nats per pair)",
        series: &[],
    };
    pub const MODERATION: PlotText = PlotText {
        title: "Moderation classifier",
        x: "step",
        y: "binary cross-entropy (nats per label)",
        series: &[],
    };
    /// The series are `ppo::PLOTTED`'s keys, in that order.
    pub const PPO: PlotText = PlotText {
        title: "PPO",
        x: "iteration",
        y: "value (unit in the legend)",
        series: &[
            "reward (reward-model score)",
            "KL to SFT (nats per answer)",
            "value loss (½ squared error)",
            "entropy (nats per token)",
        ],
    };
}

/// The typeface of every plot (see `assets/fonts/README.md`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/OpenSans-Regular.ttf");
/// The family name the plots ask for; plotters' own defaults (tick labels, legend) use it too.
const FAMILY: &str = "sans-serif";

/// Registers [`FONT`] with plotters once per process.
fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Other(
            "plot: the embedded font assets/fonts/OpenSans-Regular.ttf does not parse".into(),
        ))
    }
}

/// Draws the loss curves into a PNG (see the module comment for the colours): `text` gives the
/// title and axis labels; the legend names training loss, validation loss and, when given, the
/// unigram entropy.
pub fn plot(
    path: &Path,
    text: PlotText,
    train: &[(f64, f64)],
    val: &[(f64, f64)],
    entropy: Option<f64>,
) -> Result<()> {
    use plotters::prelude::*;
    register_font()?;
    let err = |e: String| Error::Other(format!("{}: plot: {e}", path.display()));
    let max_x = train.iter().chain(val).map(|p| p.0).fold(1.0, f64::max);
    let max_y = train
        .iter()
        .chain(val)
        .map(|p| p.1)
        .chain(entropy)
        .fold(1.0, f64::max)
        * 1.05;
    let grey = RGBColor(120, 120, 120);
    {
        let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(spaced(text.title), (FAMILY, 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(58)
            .build_cartesian_2d(0.0..max_x, 0.0..max_y)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(spaced(text.x))
            .y_desc(spaced(text.y))
            .axis_desc_style((FAMILY, 16))
            .label_style((FAMILY, 13))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_label_formatter(&step_label)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        if let Some(h) = entropy {
            let dashes: Vec<_> = (0..40)
                .map(|i| {
                    let x0 = max_x * i as f64 / 40.0;
                    PathElement::new(vec![(x0, h), (x0 + max_x / 80.0, h)], grey)
                })
                .collect();
            chart
                .draw_series(dashes)
                .map_err(|e| err(e.to_string()))?
                .label(spaced("unigram entropy"))
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (7, 0)], grey)
                        + PathElement::new(vec![(13, 0), (20, 0)], grey)
                });
        }
        chart
            .draw_series(LineSeries::new(train.iter().copied(), BLUE.stroke_width(1)))
            .map_err(|e| err(e.to_string()))?
            .label(spaced("training loss"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        if !val.is_empty() {
            chart
                .draw_series(LineSeries::new(val.iter().copied(), RED.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(spaced("validation loss"))
                .legend(|(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (20, 0)], RED.stroke_width(2))
                        + Circle::new((10, 0), 4, RED.filled())
                });
            chart
                .draw_series(val.iter().map(|&p| Circle::new(p, 4, RED.filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        legend(&mut chart).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// Steps and iterations are whole numbers: the x axis labels only whole ticks ("20", not "20.0";
/// none at 0.5 on a short run).
fn step_label(x: &f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// `text` with every space doubled. plotters 0.3.7 draws an ab_glyph glyph at the pen position
/// without its left side bearing, which eats most of a space ("nats per token" reads "natsper
/// token"); two spaces look like one.
fn spaced(text: &str) -> String {
    text.replace(' ', "  ")
}

/// A chart of [`plot`] and [`plot_series`]: f64 by f64 on a bitmap.
type Chart<'a, 'b> = plotters::prelude::ChartContext<
    'a,
    plotters::prelude::BitMapBackend<'b>,
    plotters::prelude::Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// Draws the legend of the series labelled so far in the chart's upper right corner.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> std::result::Result<(), String> {
    use plotters::prelude::*;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(|e| e.to_string())
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

/// Draws several curves into one PNG (see the module comment): `text` gives the title, the axis
/// labels and the series' names in the legend.
pub fn plot_series(path: &Path, text: PlotText, series: &[Vec<(f64, f64)>]) -> Result<()> {
    let names = text.series;
    use plotters::prelude::*;
    register_font()?;
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
        let mut chart = ChartBuilder::on(&root)
            .caption(spaced(text.title), (FAMILY, 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(58)
            .build_cartesian_2d(0.0..max_x, lo..hi)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(spaced(text.x))
            .y_desc(spaced(text.y))
            .axis_desc_style((FAMILY, 16))
            .label_style((FAMILY, 13))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_label_formatter(&step_label)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (max_x, 0.0)],
                BLACK,
            )))
            .map_err(|e| err(e.to_string()))?;
        for (i, s) in series.iter().enumerate() {
            let (r, g, b) = SERIES_COLOURS[i % SERIES_COLOURS.len()];
            let colour = RGBColor(r, g, b);
            let drawn = chart
                .draw_series(LineSeries::new(s.iter().copied(), colour.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?;
            if let Some(name) = names.get(i) {
                drawn.label(spaced(name)).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            }
            if s.len() <= 50 {
                // A dot per point: a run of one iteration has no line to draw.
                chart
                    .draw_series(s.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        if !names.is_empty() {
            legend(&mut chart).map_err(err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}
