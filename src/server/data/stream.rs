//! A stream being recorded, and what names it on disk: its storage directory, the
//! sidecars that let recovery finish a file after a crash, the formats' names.

use serde::{Deserialize, Serialize};

use crate::config::callback_event::StreamRef;
use crate::config::naming::folder_name;
use crate::record::session::{DoneFile, MediaInfo, OutputSpec};

/// The stream being recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushStream {
    /// Push domain (lower case).
    pub domain: String,
    /// AppName.
    pub app: String,
    /// StreamName.
    pub stream: String,
    /// The push URL's query string.
    pub stream_param: String,
    /// Whether it is a mix's output, and of which kind.
    #[serde(default, skip_serializing_if = "MixRole::is_none")]
    pub mix: MixRole,
}

/// What a push is to stream mixing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MixRole {
    /// A push from outside.
    #[default]
    None,
    /// A mix's output as a new stream (`OutputStreamType` 1).
    Output,
    /// A mix's output that replaces the pushed stream of its name (`OutputStreamType`
    /// 0): recorded under that name while the pushed one is not.
    Replacement,
}

impl MixRole {
    /// A push from outside.
    pub fn is_none(&self) -> bool {
        *self == MixRole::None
    }
}

impl PushStream {
    /// Storage directory: `domain/app/stream`, the names made path-safe and bounded
    /// ([`folder_name`]).
    pub fn dir(&self) -> String {
        format!(
            "{}/{}/{}",
            self.domain,
            folder_name(&self.app),
            folder_name(&self.stream)
        )
    }

    /// Registry key: one publisher per key. A mix's output that replaces a pushed
    /// stream has a key of its own (`…#mix`: `#` is in no stream name), so both live
    /// side by side — the pushed one feeding the mix, the mixed one recorded.
    pub fn key(&self) -> String {
        let suffix = if self.mix == MixRole::Replacement {
            "#mix"
        } else {
            ""
        };
        format!("{}/{}/{}{suffix}", self.domain, self.app, self.stream)
    }

    /// The stream as callback events name it.
    pub fn as_ref(&self) -> StreamRef<'_> {
        StreamRef {
            domain: &self.domain,
            app: &self.app,
            stream: &self.stream,
            stream_param: &self.stream_param,
        }
    }
}

/// What recovery needs to finish a file after a crash, written beside it in scratch
/// space as `NAME.json` (HLS: `RECORDINGID.hls.json`, for the whole recording).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sidecar {
    /// The stream.
    pub stream: PushStream,
    /// The output.
    pub spec: OutputSpec,
    /// File id (HLS: the recording id).
    pub file_id: String,
    /// Scratch file name (HLS: empty).
    pub scratch_name: String,
    /// When the file (HLS: the recording) was opened, Unix ms.
    pub opened_ms: i64,
    /// Codecs and picture size known when it was opened.
    #[serde(default)]
    pub media: MediaInfo,
    /// The node recording it (its id may change when the node restarts on another
    /// port: recovery finds its shared HLS rows by this one).
    #[serde(default)]
    pub node: String,
    /// A final file being stored (FLV, MP4, AAC): where to and its facts. Written before
    /// the store is asked, so that recovery resumes that copy rather than making another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committing: Option<Committing>,
}

/// A final file on its way into the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committing {
    /// The key it is stored at.
    pub key: String,
    /// What the index row and the callback say of it.
    pub done: DoneFile,
}

/// Name of the sidecar of an HLS recording.
pub fn hls_sidecar_name(recording_id: &str) -> String {
    format!("{recording_id}.hls.json")
}
