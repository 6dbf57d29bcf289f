//! distillguard: finds distillation campaigns in LLM-API request logs.
pub mod sim;
