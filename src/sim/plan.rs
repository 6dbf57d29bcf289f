//! The numbers behind a run: class sizes and rates per preset, scaled and optionally jittered, and
//! the shared context every class generator reads.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::record::{Account, Draft, hex_id, sub_rng};
use super::text::TextSource;
use super::timing::DAY;
use super::{Preset, SimConfig};

pub(crate) const MODEL_MAIN: &str = "aster-pro-1";
pub(crate) const MODEL_LITE: &str = "aster-lite-1";
/// Released during the run; early movers to it are a campaign signal.
pub(crate) const MODEL_NEW: &str = "aster-pro-2";

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub ordinary: usize,
    pub ordinary_conv_per_day: f64,
    pub developers: usize,
    pub dev_batch_share: f64,
    pub companies: Vec<usize>,
    pub bots: usize,
    pub benchmarks: usize,
    pub classrooms: Vec<usize>,
    pub reseller: usize,
    pub hydra: usize,
    pub hydra_per_hour: f64,
    pub hydra_subnets: usize,
    pub hydra_cards: usize,
    pub migrate_delay_h: f64,
    pub migrate_share: f64,
    pub stealth: usize,
    pub stealth_per_day: f64,
    pub camouflage: f64,
    pub capability: usize,
    pub capability_per_hour: f64,
    pub wave_size: usize,
    pub wave_life_h: f64,
    pub wave_per_hour: f64,
    pub sweep: usize,
    pub sweep_per_hour: f64,
}

impl Plan {
    pub fn new(cfg: &SimConfig) -> Self {
        let v = cfg.variation.max(0.0);
        let s = cfg.scale;
        // Each knob gets its own stream so jittering one never moves another.
        let jit = |label: &str, base: f64, lo: f64, hi: f64| -> f64 {
            if v == 0.0 {
                return base;
            }
            let mut r = sub_rng(cfg.seed, &format!("variation/{label}"));
            let z: f64 = StandardNormal.sample(&mut r);
            (base * (v * z).exp()).clamp(lo, hi)
        };
        let count = |label: &str, base: f64| -> usize {
            if base <= 0.0 {
                return 0;
            }
            (jit(label, base * s, 1.0, base * s * 4.0).round() as usize).max(1)
        };
        let rate = |label: &str, base: f64| jit(label, base * s, base * s * 0.25, base * s * 4.0);
        match cfg.preset {
            Preset::Sample => Plan {
                ordinary: count("ordinary", 230.0),
                ordinary_conv_per_day: jit("ordinary_rate", 1.9, 0.5, 6.0),
                developers: count("developers", 14.0),
                dev_batch_share: jit("dev_batch", 0.2, 0.05, 0.5),
                companies: vec![count("company0", 8.0).max(3)],
                bots: 1,
                benchmarks: 0,
                classrooms: vec![],
                reseller: 0,
                hydra: count("hydra", 24.0).max(4),
                hydra_per_hour: rate("hydra_rate", 26.0),
                hydra_subnets: jit("hydra_subnets", 3.0, 1.0, 8.0).round() as usize,
                hydra_cards: jit("hydra_cards", 3.0, 1.0, 10.0).round() as usize,
                migrate_delay_h: jit("migrate_delay", 6.0, 1.0, 20.0),
                migrate_share: jit("migrate_share", 0.5, 0.3, 0.7),
                stealth: 0,
                stealth_per_day: 0.0,
                camouflage: 0.0,
                capability: 0,
                capability_per_hour: 0.0,
                wave_size: 0,
                wave_life_h: 0.0,
                wave_per_hour: 0.0,
                sweep: 0,
                sweep_per_hour: 0.0,
            },
            Preset::Standard => Plan {
                ordinary: count("ordinary", 3300.0),
                ordinary_conv_per_day: jit("ordinary_rate", 0.65, 0.2, 2.0),
                developers: count("developers", 320.0),
                dev_batch_share: jit("dev_batch", 0.2, 0.05, 0.5),
                companies: [60.0, 28.0, 14.0, 6.0]
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| count(&format!("company{i}"), n).max(3))
                    .collect(),
                bots: 6,
                benchmarks: 4,
                classrooms: vec![
                    count("classroom0", 45.0).max(5),
                    count("classroom1", 32.0).max(5),
                ],
                reseller: count("reseller", 60.0).max(5),
                hydra: count("hydra", 120.0).max(6),
                hydra_per_hour: rate("hydra_rate", 32.0),
                hydra_subnets: jit("hydra_subnets", 4.0, 1.0, 10.0).round() as usize,
                hydra_cards: jit("hydra_cards", 5.0, 1.0, 15.0).round() as usize,
                migrate_delay_h: jit("migrate_delay", 8.0, 1.0, 22.0),
                migrate_share: jit("migrate_share", 0.5, 0.3, 0.7),
                stealth: count("stealth", 30.0).max(3),
                stealth_per_day: jit("stealth_rate", 12.0, 3.0, 40.0),
                camouflage: jit("camouflage", 0.45, 0.4, 0.75),
                capability: count("capability", 20.0).max(3),
                capability_per_hour: rate("capability_rate", 15.0),
                wave_size: count("wave_size", 6.0).max(2),
                wave_life_h: jit("wave_life", 12.0, 3.0, 24.0),
                wave_per_hour: rate("wave_rate", 14.0),
                sweep: count("sweep", 25.0).max(3),
                sweep_per_hour: rate("sweep_rate", 15.0),
            },
        }
    }
}

/// What every class generator may read.
pub(crate) struct World<'a> {
    pub seed: u64,
    pub start: i64,
    pub end: i64,
    pub release: i64,
    pub text: &'a TextSource,
    pub plan: &'a Plan,
}

impl World<'_> {
    pub fn rng(&self, label: &str) -> ChaCha8Rng {
        sub_rng(self.seed, label)
    }

    pub fn id(&self, prefix: &str, label: &str, len: usize) -> String {
        hex_id(self.seed, prefix, label, len)
    }

    /// Model an ordinary client picks: its usual one, drifting to the new release at `eagerness`
    /// per day since release (capped, people are slow to switch).
    pub fn legit_model<R: Rng>(
        &self,
        rng: &mut R,
        t: i64,
        lite: bool,
        eagerness: f64,
    ) -> &'static str {
        if t >= self.release {
            let days = (t - self.release) as f64 / DAY as f64;
            if rng.random::<f64>() < (eagerness * days).min(0.45) {
                return MODEL_NEW;
            }
        }
        if lite { MODEL_LITE } else { MODEL_MAIN }
    }
}

/// One class's accounts and requests; campaign classes also carry their name and style.
pub(crate) struct ClassOut {
    pub class: &'static str,
    pub accounts: Vec<Account>,
    pub drafts: Vec<Draft>,
    pub campaign: Option<&'static str>,
}
