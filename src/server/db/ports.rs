//! The [`super::Outbox`] and [`super::Leases`] ports, one text for both backends (the
//! statements are in `sql`), implemented for each by [`impl_outbox!`] and
//! [`impl_leases!`]. What differs — how due callbacks are claimed (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL) and whose clock a lease is taken on — is a function of the
//! backend's own, named in the invocation.

/// `impl Outbox for $db` (a type with a sqlx `pool`); `$claim` claims due callbacks:
/// `async fn(&$db, now_ms, until_ms, limit) -> Result<Vec<Pending>, DbError>`.
macro_rules! impl_outbox {
    ($db:ty, $claim:path) => {
        #[async_trait::async_trait]
        impl super::Outbox for $db {
            async fn enqueue(
                &self,
                p: &super::Pending,
                now_ms: i64,
            ) -> Result<bool, super::DbError> {
                let done = sqlx::query(super::sql::ENQUEUE)
                    .bind(&p.event_id)
                    .bind(&p.url)
                    .bind(&p.callback_key)
                    .bind(&p.body)
                    .bind(p.attempts)
                    .bind(now_ms)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("queueing a callback"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim(
                &self,
                now_ms: i64,
                until_ms: i64,
                limit: i64,
            ) -> Result<Vec<super::Pending>, super::DbError> {
                $claim(self, now_ms, until_ms, limit).await
            }

            async fn ack(&self, event_id: &str) -> Result<(), super::DbError> {
                sqlx::query(super::sql::ACK)
                    .bind(event_id)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("removing a callback"))?;
                Ok(())
            }

            async fn retry(
                &self,
                event_id: &str,
                attempts: i64,
                next_ms: i64,
                error: &str,
            ) -> Result<(), super::DbError> {
                sqlx::query(super::sql::RETRY)
                    .bind(attempts)
                    .bind(next_ms)
                    .bind(error)
                    .bind(event_id)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("rescheduling a callback"))?;
                Ok(())
            }

            async fn next_due(&self) -> Result<Option<i64>, super::DbError> {
                sqlx::query_scalar(super::sql::NEXT_DUE)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(super::sql::backend("reading the outbox"))
            }

            async fn queued(&self) -> Result<i64, super::DbError> {
                sqlx::query_scalar(super::sql::QUEUED)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(super::sql::backend("reading the outbox"))
            }

            async fn log_attempt(&self, a: &super::Attempt) -> Result<(), super::DbError> {
                sqlx::query(super::sql::LOG_ATTEMPT)
                    .bind(&a.event_id)
                    .bind(a.attempt)
                    .bind(&a.stream_name)
                    .bind(a.event_type)
                    .bind(a.event_ms)
                    .bind(a.response_ms)
                    .bind(&a.request)
                    .bind(&a.response)
                    .bind(a.result_code)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("logging a callback attempt"))?;
                Ok(())
            }

            async fn attempts(
                &self,
                q: &super::AttemptQuery,
            ) -> Result<(i64, Vec<super::Attempt>), super::DbError> {
                let delivered = q.delivered.map(i64::from);
                let rows: Vec<super::CountedAttempt> = sqlx::query_as(super::sql::ATTEMPTS)
                    .bind(q.from_ms)
                    .bind(q.to_ms)
                    .bind(&q.stream_name)
                    .bind(q.event_type)
                    .bind(delivered)
                    .bind(q.limit)
                    .bind(q.offset)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(super::sql::reading(
                        "callback_log",
                        "reading the callback log",
                    ))?;
                let total = match rows.first() {
                    Some(row) => row.total,
                    None => sqlx::query_scalar(super::sql::COUNT_ATTEMPTS)
                        .bind(q.from_ms)
                        .bind(q.to_ms)
                        .bind(&q.stream_name)
                        .bind(q.event_type)
                        .bind(delivered)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(super::sql::backend("reading the callback log"))?,
                };
                Ok((total, rows.into_iter().map(|r| r.attempt).collect()))
            }

            async fn prune_log(&self, before_ms: i64) -> Result<(), super::DbError> {
                sqlx::query(super::sql::PRUNE_LOG)
                    .bind(before_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("pruning the callback log"))?;
                Ok(())
            }
        }
    };
}

/// `impl Leases for $db` (a type with a sqlx `pool`); `$acquire` takes or renews a
/// lease: `async fn(&$db, name, owner, now_ms, ttl_ms) -> Result<Option<i64>, DbError>`;
/// `$renew` renews those held: `async fn(&$db, prefix, owner, now_ms, ttl_ms) ->
/// Result<Vec<String>, DbError>`.
macro_rules! impl_leases {
    ($db:ty, $acquire:path, $renew:path) => {
        #[async_trait::async_trait]
        impl super::Leases for $db {
            async fn acquire(
                &self,
                name: &str,
                owner: &str,
                now_ms: i64,
                ttl_ms: i64,
            ) -> Result<Option<i64>, super::DbError> {
                $acquire(self, name, owner, now_ms, ttl_ms).await
            }

            async fn renew_held(
                &self,
                prefix: &str,
                owner: &str,
                now_ms: i64,
                ttl_ms: i64,
            ) -> Result<Vec<String>, super::DbError> {
                $renew(self, prefix, owner, now_ms, ttl_ms).await
            }

            async fn release(&self, name: &str, owner: &str) -> Result<(), super::DbError> {
                sqlx::query(super::sql::RELEASE_LEASE)
                    .bind(name)
                    .bind(owner)
                    .execute(&self.pool)
                    .await
                    .map_err(super::sql::backend("releasing a lease"))?;
                Ok(())
            }

            async fn holder(
                &self,
                name: &str,
            ) -> Result<Option<(String, i64, i64)>, super::DbError> {
                sqlx::query_as(super::sql::LEASE_HOLDER)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(super::sql::reading("leases", "reading a lease"))
            }
        }
    };
}

pub(super) use {impl_leases, impl_outbox};
