//! Helpers shared by the test modules.

use mig06_phi::Detector;
use std::sync::OnceLock;

/// The detector, built once for the whole test binary (building it takes ~100 ms).
pub(crate) fn det() -> &'static Detector {
    static D: OnceLock<Detector> = OnceLock::new();
    D.get_or_init(|| Detector::new().unwrap())
}
