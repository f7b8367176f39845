//! What went wrong in the data plane — a connection that ended early, a recording that
//! could not be stored, indexed or recovered, a subscriber refused: the wing's one error
//! type, each case with a stable machine code (for logs and alerts).

use crate::server::db::DbError;
use crate::storage::StorageError;

/// See the module doc.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The store refused or failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The index row could not be written (after retries).
    #[error("indexing {path}: {source}")]
    Index {
        /// The file's storage key.
        path: String,
        /// The database's error.
        source: DbError,
    },
    /// A scratch file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored playlist could not be read.
    #[error("{path}: {message}")]
    Playlist {
        /// Its storage key.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A sidecar names a scratch file that is no longer there.
    #[error("the scratch file {0} is gone (it was committed before the crash)")]
    ScratchGone(String),
    /// A connection's socket failed (the only `io::Error` converted implicitly: scratch
    /// files say what they were doing, [`DataError::io`]).
    #[error("socket: {0}")]
    Socket(#[from] std::io::Error),
    /// The protocol's handshake failed.
    #[error("handshake: {0}")]
    Handshake(String),
    /// The peer broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer exceeded a limit.
    #[error("limit: {0}")]
    Limit(String),
    /// The peer was silent too long.
    #[error("timeout: {0}")]
    Timeout(&'static str),
    /// The server ended the push (its stream lease went to another node, …).
    #[error("dropped: {0}")]
    Dropped(&'static str),
    /// A live stream has as many subscribers as it takes.
    #[error("{0} subscribers already read this stream")]
    Subscribers(usize),
}

impl DataError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DataError::Storage(e) if e.is_transient() => "storage_transient",
            DataError::Storage(_) => "storage",
            DataError::Index { .. } => "index",
            DataError::Io { .. } => "scratch_io",
            DataError::Playlist { .. } => "playlist",
            DataError::ScratchGone(_) => "scratch_gone",
            DataError::Socket(_) => "socket",
            DataError::Handshake(_) => "handshake",
            DataError::Protocol(_) => "protocol",
            DataError::Limit(_) => "limit",
            DataError::Timeout(_) => "timeout",
            DataError::Dropped(_) => "dropped",
            DataError::Subscribers(_) => "subscribers",
        }
    }

    /// A scratch-file failure while `context`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DataError {
        let context = context.into();
        move |source| DataError::Io { context, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_messages_name_the_file() {
        let gone = DataError::ScratchGone("a.flv".into());
        assert_eq!(
            (gone.code(), gone.to_string().contains("a.flv")),
            ("scratch_gone", true)
        );
        let io = DataError::io("reading a.flv")(std::io::Error::other("boom"));
        assert_eq!(
            (io.code(), io.to_string()),
            ("scratch_io", "reading a.flv: boom".to_owned())
        );
        let playlist = DataError::Playlist {
            path: "d/a.m3u8".into(),
            message: "bad".into(),
        };
        assert_eq!(playlist.code(), "playlist");
    }
}
