//! The progress bar on standard error: bytes and records done, records/s, time left.
//! Hidden when standard error is not a terminal, or when asked to be quiet.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::table::thousands;

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    pub fn new(enabled: bool, total_bytes: Option<u64>) -> Self {
        let bar = enabled.then(|| {
            let bar = match total_bytes {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let template = if total_bytes.is_some() {
                "{spinner} {elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} · {msg} · {eta} left"
            } else {
                "{spinner} {elapsed_precise} {binary_bytes} read · {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("valid progress template")
                    .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
        }
    }

    pub fn update(&self, bytes: u64, records: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} records · {}/s",
                thousands(records),
                thousands((records as f64 / secs) as u64)
            ));
        }
    }

    pub fn detecting(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message("finding clusters…");
            bar.tick();
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
