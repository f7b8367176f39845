//! The [`super::RecordingIndex`] port, one text for both backends (the statements are
//! in `sql`), implemented for each by [`impl_recording_index!`].

/// `impl RecordingIndex for $db` (a type with a sqlx `pool` of `$backend`).
macro_rules! impl_recording_index {
    ($db:ty, $backend:ty) => {
        #[async_trait::async_trait]
        impl super::RecordingIndex for $db {
            async fn insert(&self, r: &super::Recording) -> Result<(), super::DbError> {
                sqlx::query(super::sql::INSERT_RECORDING)
                    .bind(&r.file_id)
                    .bind(&r.domain_name)
                    .bind(&r.app_name)
                    .bind(&r.stream_name)
                    .bind(&r.format)
                    .bind(r.start_ms)
                    .bind(r.end_ms)
                    .bind(r.duration_ms)
                    .bind(r.size_bytes)
                    .bind(&r.video_codec)
                    .bind(&r.audio_codec)
                    .bind(r.width)
                    .bind(r.height)
                    .bind(&r.task_id)
                    .bind(r.template_id)
                    .bind(&r.storage_path)
                    .bind(&r.url)
                    .bind(r.created_ms)
                    .bind(r.expires_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("indexing a recording"))?;
                Ok(())
            }

            async fn search(
                &self,
                s: &super::Search,
            ) -> Result<(i64, Vec<super::Recording>), super::DbError> {
                let total: Option<i64> = if s.without_total {
                    None
                } else {
                    let mut count =
                        sqlx::QueryBuilder::<$backend>::new("SELECT COUNT(*) AS n FROM recordings");
                    super::sql::filters(&mut count, s);
                    let n = count
                        .build_query_scalar()
                        .fetch_one(&self.pool)
                        .await
                        .map_err(super::sql::backend("searching recordings"))?;
                    Some(n)
                };
                let mut rows = sqlx::QueryBuilder::<$backend>::new("SELECT * FROM recordings");
                super::sql::filters(&mut rows, s);
                super::sql::page(&mut rows, s);
                let found = rows
                    .build_query_as::<super::Recording>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(super::sql::reading("recordings", "searching recordings"))?;
                Ok((total.unwrap_or(found.len() as i64), found))
            }

            async fn expired(
                &self,
                now_ms: i64,
                limit: i64,
            ) -> Result<Vec<super::Recording>, super::DbError> {
                sqlx::query_as(super::sql::EXPIRED)
                    .bind(now_ms)
                    .bind(super::sql::limit(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(super::sql::reading(
                        "recordings",
                        "finding expired recordings",
                    ))
            }

            async fn oldest(
                &self,
                kept_forever_too: bool,
                limit: i64,
            ) -> Result<Vec<super::Recording>, super::DbError> {
                sqlx::query_as(super::sql::OLDEST)
                    .bind(kept_forever_too)
                    .bind(super::sql::limit(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(super::sql::reading(
                        "recordings",
                        "finding the oldest recordings",
                    ))
            }

            async fn delete(&self, file_id: &str) -> Result<(), super::DbError> {
                sqlx::query(super::sql::DELETE_RECORDING)
                    .bind(file_id)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("deleting a recording's row"))?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_recording_index;
