//! distillguard: finds distillation campaigns in LLM-API request logs.

pub mod features;
pub mod record;
pub mod detect;
pub mod report;
pub mod engine;
