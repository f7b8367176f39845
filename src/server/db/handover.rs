//! The [`HlsHandover`] port's SQL, the same text on both backends (`$n` placeholders,
//! `DELETE/UPDATE … RETURNING`), implemented for each by [`impl_hls_handover!`].
//!
//! Taking rows is one statement each (a delete or an update that returns what it
//! changed), so when several nodes race for a row exactly one gets it. "Now" is the
//! caller's clock here, compared with lease deadlines that PostgreSQL writes on its own
//! clock: nodes are expected to keep their clocks in sync (NTP) to well under the splice
//! timeout.

/// The columns of an [`super::OpenHls`] row.
macro_rules! hls_columns {
    () => {
        "recording_id, stream_key, node, sidecar, flow_continue_ms, parked_until_ms"
    };
}

/// Registers an open recording (kept as it is when already there).
pub(super) const HLS_OPEN: &str = concat!(
    "INSERT INTO open_hls (",
    hls_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (recording_id) DO NOTHING"
);

/// Parks `$1` of node `$2` until `$3`.
pub(super) const HLS_PARK: &str =
    "UPDATE open_hls SET parked_until_ms = $3 WHERE recording_id = $1 AND node = $2";

/// Takes `$1` if node `$2` has it.
pub(super) const HLS_TAKE_MINE: &str = concat!(
    "DELETE FROM open_hls WHERE recording_id = $1 AND node = $2 RETURNING ",
    hls_columns!()
);

/// Takes `$1` whoever has it.
pub(super) const HLS_TAKE_ANY: &str = concat!(
    "DELETE FROM open_hls WHERE recording_id = $1 RETURNING ",
    hls_columns!()
);

/// Node `$2` takes over stream `$1`'s recordings not past their deadline at `$3`.
pub(super) const HLS_CLAIM: &str = concat!(
    "UPDATE open_hls SET node = $2, parked_until_ms = NULL WHERE stream_key = $1 \
     AND (parked_until_ms IS NULL OR parked_until_ms >= $3) RETURNING ",
    hls_columns!()
);

/// Takes up to `$2` recordings no push will continue at `$1`: parked past their
/// deadline (those node `$3` parked only `$4` ms past it: its own timer finalises them
/// first, from memory), or recording on a node whose lease on the stream expired more
/// than the splice timeout ago (or that has none).
pub(super) const HLS_TAKE_ORPHANS: &str = concat!(
    "DELETE FROM open_hls WHERE recording_id IN (\
     SELECT o.recording_id FROM open_hls o LEFT JOIN leases l ON l.name = 'stream/' || o.stream_key \
     WHERE (o.parked_until_ms IS NOT NULL \
     AND o.parked_until_ms < CASE WHEN o.node = $3 THEN $1 - $4 ELSE $1 END) \
     OR (o.parked_until_ms IS NULL AND COALESCE(l.expires_ms, 0) + o.flow_continue_ms < $1) \
     ORDER BY o.recording_id LIMIT $2) RETURNING ",
    hls_columns!()
);

/// The recordings of stream `$1` being recorded now (not parked), oldest first.
pub(super) const HLS_RECORDING: &str = concat!(
    "SELECT ",
    hls_columns!(),
    " FROM open_hls WHERE stream_key = $1 AND parked_until_ms IS NULL ORDER BY recording_id"
);

/// `impl HlsHandover for $db` (a type with a sqlx `pool`) over the statements above.
macro_rules! impl_hls_handover {
    ($db:ty) => {
        #[async_trait::async_trait]
        impl super::HlsHandover for $db {
            async fn hls_open(&self, r: &super::OpenHls) -> Result<(), super::DbError> {
                sqlx::query(super::handover::HLS_OPEN)
                    .bind(&r.recording_id)
                    .bind(&r.stream_key)
                    .bind(&r.node)
                    .bind(&r.sidecar)
                    .bind(r.flow_continue_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("sharing an HLS recording"))?;
                Ok(())
            }

            async fn hls_park(
                &self,
                recording_id: &str,
                node: &str,
                until_ms: i64,
            ) -> Result<bool, super::DbError> {
                let done = sqlx::query(super::handover::HLS_PARK)
                    .bind(recording_id)
                    .bind(node)
                    .bind(until_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("parking an HLS recording"))?;
                Ok(done.rows_affected() > 0)
            }

            async fn hls_take(
                &self,
                recording_id: &str,
                node: Option<&str>,
            ) -> Result<Option<super::OpenHls>, super::DbError> {
                let query = match node {
                    Some(node) => sqlx::query_as(super::handover::HLS_TAKE_MINE)
                        .bind(recording_id)
                        .bind(node.to_owned()),
                    None => sqlx::query_as(super::handover::HLS_TAKE_ANY).bind(recording_id),
                };
                query
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(super::sql::reading("open_hls", "taking an HLS recording"))
            }

            async fn hls_claim(
                &self,
                stream_key: &str,
                node: &str,
                now_ms: i64,
            ) -> Result<Vec<super::OpenHls>, super::DbError> {
                sqlx::query_as(super::handover::HLS_CLAIM)
                    .bind(stream_key)
                    .bind(node)
                    .bind(now_ms)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(super::sql::reading("open_hls", "claiming HLS recordings"))
            }

            async fn hls_recording(
                &self,
                stream_key: &str,
            ) -> Result<Vec<super::OpenHls>, super::DbError> {
                sqlx::query_as(super::handover::HLS_RECORDING)
                    .bind(stream_key)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(super::sql::reading("open_hls", "listing HLS recordings"))
            }

            async fn hls_take_orphans(
                &self,
                now_ms: i64,
                limit: i64,
                (node, grace_ms): (&str, i64),
            ) -> Result<Vec<super::OpenHls>, super::DbError> {
                sqlx::query_as(super::handover::HLS_TAKE_ORPHANS)
                    .bind(now_ms)
                    .bind(limit)
                    .bind(node)
                    .bind(grace_ms)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(super::sql::reading(
                        "open_hls",
                        "taking abandoned HLS recordings",
                    ))
            }
        }
    };
}

pub(super) use impl_hls_handover;
