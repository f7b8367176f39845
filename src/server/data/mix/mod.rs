//! Stream mixing (reference §7): the sessions `CreateCommonMixStream` stores, each run
//! by a [`runner::Runner`] on this node — its inputs subscribed to at their pushes'
//! fan-out, composed by an ffmpeg engine ([`engine`], laid out by [`crate::mix`]), the
//! result published as a push of the output stream ([`output`]) and recorded by the
//! rules like any push.
//!
//! The supervisor ([`serve_mixes`]) follows the configuration, woken by each new state
//! of it ([`crate::server::configuration::Configuration::subscribe`]; an idle server
//! does not poll): a session that appears
//! gets a runner, a changed one is handed its new layout, a removed one
//! (`CancelCommonMixStream`) is stopped — its output's recordings finalised and
//! announced. Sessions are stored with the configuration, so a restart runs them again
//! once their inputs are live. At most `[mix] max_sessions` run at once.
//!
//! Inputs are found by stream name among this node's live pushes (on any domain and
//! app; with several, the first in key order). In a cluster every node runs the stored
//! sessions, each over the inputs live on it; the output stream's lease lets one node
//! publish it (the others try again every [`runner::OUTPUT_RETRY`]). Inputs pushed to
//! different nodes are not mixed together: push a mix's inputs to one node.

pub mod engine;
pub mod output;
pub mod runner;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::fanout::{Subscription, DEFAULT_SUBSCRIBER_FRAMES};
use super::DataPlane;
use crate::config::mix::MixSession;
use crate::server::db::ControlState;

/// Where a live input is pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputStream {
    /// Push domain.
    pub domain: String,
    /// AppName.
    pub app: String,
}

/// Whether a mix's output replaces pushed stream `name` (`OutputStreamType` 0): its
/// push is then not recorded, the mixed one is.
pub fn replaced_by_mix(control: &ControlState, name: &str) -> bool {
    control
        .mixes
        .values()
        .any(|m| m.output_params.replaces_input() && m.output_params.output_stream_name == name)
}

/// Subscribes to live push `name` (a pushed stream, not a mix's output).
pub fn find_input(app: &DataPlane, name: &str) -> Option<(InputStream, Subscription)> {
    let mut keys: Vec<String> = app
        .live
        .keys()
        .into_iter()
        .filter(|k| !k.ends_with("#mix") && k.rsplit('/').next() == Some(name))
        .collect();
    keys.sort();
    for key in keys {
        let mut parts = key.splitn(3, '/');
        let (Some(domain), Some(app_name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let stream = InputStream {
            domain: domain.to_owned(),
            app: app_name.to_owned(),
        };
        if let Some(Ok(subscription)) = app.live.subscribe(&key, DEFAULT_SUBSCRIBER_FRAMES) {
            return Some((stream, subscription));
        }
    }
    None
}

/// Runs the stored mix sessions until `shutdown` turns true (see the module doc).
pub async fn serve_mixes(app: Arc<DataPlane>, shutdown: watch::Receiver<bool>) {
    let mut running: HashMap<String, watch::Sender<Arc<MixSession>>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    let mut published = app.config.subscribe();
    let limit = app.settings.file.mix.session_limit();
    loop {
        let wanted = app.config.read().mixes.clone();
        running.retain(|id, _| wanted.contains_key(id));
        for (id, session) in wanted {
            match running.get(&id) {
                Some(tx) if **tx.borrow() != session => {
                    let _ = tx.send(Arc::new(session));
                }
                Some(_) => {}
                None if running.len() < limit => {
                    let (tx, rx) = watch::channel(Arc::new(session));
                    let runner = runner::Runner::new(Arc::clone(&app), rx);
                    tasks.spawn(runner.run(shutdown.clone()));
                    running.insert(id, tx);
                }
                None => {}
            }
        }
        tokio::select! {
            Ok(()) = published.changed() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    running.clear();
    while tasks.join_next().await.is_some() {}
}
