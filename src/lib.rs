//! distillguard: finds distillation campaigns in LLM-API request logs.
//!
//! The pipeline, in the order records travel through it:
//! [`source`] (files and bodies into items) → [`record`] (the contract's record)
//! → [`features`] (bounded per-account state) → [`detect`] (the cross-account
//! stage) → [`report`] (clusters with signals and evidence). [`engine`] holds
//! the state both doors share; [`scan`] is the offline door.

pub mod commands;
pub mod detect;
pub mod engine;
pub mod eval;
pub mod features;
pub mod partition;
pub mod record;
pub mod report;
pub mod scan;
pub mod serve;
pub mod sim;
pub mod source;
