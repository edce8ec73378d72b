//! The loss plots carry text: a title, axis labels and a legend, drawn with the embedded font
//! (so they render on a machine with no fonts installed).

use crate::common::temp_dir;
use tinychat::train::metrics::{plot, plot_series, text, PlotText};

/// A loss curve falling from 8 to 3 nats over 100 steps, with a validation point every 20.
fn curves() -> (Vec<(f64, f64)>, Vec<(f64, f64)>) {
    let train: Vec<_> = (0..100)
        .map(|s| (s as f64, 3.0 + 5.0 * (-(s as f64) / 30.0).exp()))
        .collect();
    let val = train
        .iter()
        .step_by(20)
        .map(|&(s, l)| (s, l + 0.2))
        .collect();
    (train, val)
}

fn png(path: &std::path::Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    bytes
}

#[test]
fn a_title_and_axis_labels_are_drawn() {
    let dir = temp_dir("plot-text");
    let (train, val) = curves();
    let blank = PlotText {
        title: "",
        x: "",
        y: "",
        series: &[],
    };
    plot(
        &dir.join("text.png"),
        text::PRETRAIN,
        &train,
        &val,
        Some(6.75),
    )
    .unwrap();
    plot(&dir.join("blank.png"), blank, &train, &val, Some(6.75)).unwrap();
    let only_title = PlotText {
        title: text::PRETRAIN.title,
        ..blank
    };
    plot(&dir.join("title.png"), only_title, &train, &val, Some(6.75)).unwrap();
    let (with_text, without, title) = (
        png(&dir.join("text.png")),
        png(&dir.join("blank.png")),
        png(&dir.join("title.png")),
    );
    // Glyphs were rendered: the title alone changes the image, and so do the axis labels.
    assert_ne!(
        title, without,
        "the title drew nothing: is plotters built with its ab_glyph font engine?"
    );
    assert_ne!(with_text, title, "the axis labels drew nothing");
    // Drawing is deterministic: the same plot twice gives the same bytes.
    plot(
        &dir.join("again.png"),
        text::PRETRAIN,
        &train,
        &val,
        Some(6.75),
    )
    .unwrap();
    assert_eq!(png(&dir.join("again.png")), with_text);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn several_series_get_a_legend() {
    let dir = temp_dir("plot-series");
    let series: Vec<Vec<(f64, f64)>> = (0..4)
        .map(|k| {
            (0..40)
                .map(|i| (i as f64, (k as f64 - 1.0) * (i as f64 / 10.0).sin()))
                .collect()
        })
        .collect();
    let unnamed = PlotText {
        series: &[],
        ..text::PPO
    };
    plot_series(&dir.join("legend.png"), text::PPO, &series).unwrap();
    plot_series(&dir.join("unnamed.png"), unnamed, &series).unwrap();
    assert_ne!(
        png(&dir.join("legend.png")),
        png(&dir.join("unnamed.png")),
        "the legend drew nothing"
    );
    std::fs::remove_dir_all(&dir).ok();
}
