//! `sluice check-config`: validate and describe a config.

use std::path::PathBuf;

use crate::Failure;

pub fn run(config: Option<PathBuf>) -> Result<(), Failure> {
    let config = super::load_config(config.as_deref())?;
    print!("{}", config.describe());
    Ok(())
}
