//! Start-up recovery of recordings interrupted by a crash.

use std::sync::Arc;

use super::state::AppState;

/// Recovers what a previous process left in progress.
pub async fn recover(app: &Arc<AppState>) {
    let _ = app;
}
