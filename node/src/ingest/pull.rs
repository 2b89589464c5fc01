//! Pull (主动拉取): the node fetches a vendor's HTTP API on a schedule instead of waiting for
//! pushes. Each source (`[[ingest.pull]]` in the configuration) names the tenant the records
//! belong to, the URL, the format (any format or `vendor:<name>`) and a cron schedule. The node
//! keeps a cursor per source: each request carries it as a query parameter, the vendor answers
//! a page of records and the next cursor in a response header, and the cursor advances only
//! after the page's records are committed. A page is an ordinary submission (channel `pull`),
//! so a page fetched twice — after a crash between the commit and the cursor — is reported as
//! duplicates and changes nothing.

pub use crate::config::PullSource;
use std::time::Duration;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::adapter::Source;

use super::submissions::Channel;
use super::{policy, Intake, Job, Mode};
use crate::app::AppState;
use crate::audit::AuditContext;
use crate::db::schema::pull_cursors;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// What one run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PullReport {
    /// The source.
    pub source: String,
    /// Pages fetched.
    pub pages: u32,
    /// Records read.
    pub received: u64,
    /// Records stored.
    pub accepted: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Rejected.
    pub rejected: u64,
    /// The cursor after the run.
    pub cursor: String,
    /// The submissions the pages became.
    pub submissions: Vec<crate::ids::SubmissionId>,
}

/// A source with its cursor, as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PullState {
    /// The source.
    #[schema(value_type = Object)]
    pub source: PullSource,
    /// Its cursor.
    pub cursor: String,
    /// When it last ran (UTC).
    pub last_run: Option<chrono::NaiveDateTime>,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
}

type CursorState = (String, Option<chrono::NaiveDateTime>, Option<String>);

fn cursor_of(conn: &mut crate::db::DbConnection, name: &str) -> AppResult<CursorState> {
    let row: Option<(String, chrono::NaiveDateTime, Option<String>)> = pull_cursors::table
        .find(name)
        .select((pull_cursors::cursor, pull_cursors::updated_at, pull_cursors::last_error))
        .first(conn)
        .optional()?;
    Ok(row.map(|(c, at, e)| (c, Some(at), e)).unwrap_or_default())
}

/// The cursor of source `name`, read on the blocking pool.
async fn cursor_now(db: &Db, name: &str) -> AppResult<String> {
    let name = name.to_owned();
    Ok(db.run(move |conn| cursor_of(conn, &name)).await?.0)
}

/// Keeps the cursor of source `name` (and why its last run failed), on the blocking pool.
async fn save(db: &Db, name: &str, cursor: &str, error: Option<&str>) -> AppResult<()> {
    let (name, cursor, error) = (name.to_owned(), cursor.to_owned(), error.map(str::to_owned));
    db.transaction(move |conn| {
        diesel::delete(pull_cursors::table.find(&name)).execute(conn)?;
        diesel::insert_into(pull_cursors::table)
            .values((
                pull_cursors::name.eq(&name),
                pull_cursors::cursor.eq(&cursor),
                pull_cursors::updated_at.eq(crate::db::now()),
                pull_cursors::last_error.eq(&error),
            ))
            .execute(conn)?;
        Ok(())
    })
    .await
}

/// The sources with their cursors.
pub fn states(state: &AppState) -> AppResult<Vec<PullState>> {
    state
        .config
        .ingest
        .pull
        .iter()
        .map(|s| {
            let (cursor, last_run, last_error) = cursor_of(&mut *state.db.conn()?, &s.name)?;
            Ok(PullState { source: s.clone(), cursor, last_run, last_error })
        })
        .collect()
}

fn failed(source: &str, zh: String, en: String) -> AppError {
    AppError::with_detail(
        crate::error::ErrorKind::UpstreamFailed,
        format!("拉取 {source} 失败：{zh}"),
        format!("pulling {source} failed: {en}"),
    )
}

/// Runs source `name` now: pages until the vendor has nothing new (or `max_pages`).
pub async fn run(state: &AppState, name: &str) -> AppResult<PullReport> {
    let source = state
        .config
        .ingest
        .pull
        .iter()
        .find(|s| s.name == name)
        .cloned()
        .ok_or_else(|| AppError::not_found("拉取来源", "pull source"))?;
    let outcome = pages(state, &source).await;
    match &outcome {
        Ok(report) => save(&state.db, &source.name, &report.cursor, None).await?,
        Err(e) => {
            let cursor = cursor_now(&state.db, &source.name).await?;
            save(&state.db, &source.name, &cursor, Some(&e.detail_zh)).await?;
        }
    }
    count_run(&state.db, &source, outcome.is_err()).await?;
    outcome
}

/// Counts a run of `source` on today's row of `pull_days` (the availability of its pulls,
/// which monitoring evaluation scores). A source naming no tenant here counts nowhere.
async fn count_run(db: &Db, source: &PullSource, failed: bool) -> AppResult<()> {
    use crate::db::schema::pull_days as pd;
    use diesel::upsert::excluded;
    let (name, code) = (source.name.clone(), source.tenant.clone());
    let day = crate::trace::row::day_text(crate::trace::row::day_of(crate::db::now()));
    db.transaction(move |conn| {
        let Ok(tenant) = crate::tenants::by_code(conn, &code) else { return Ok(()) };
        let values = (
            pd::tenant_id.eq(tenant.id.as_str()),
            pd::source.eq(&name),
            pd::day.eq(&day),
            pd::runs.eq(1i64),
            pd::failures.eq(i64::from(failed)),
        );
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(pd::table)
            .values(values)
            .on_conflict((pd::tenant_id, pd::day, pd::source))
            .do_update()
            .set((pd::runs.eq(pd::runs + excluded(pd::runs)), pd::failures.eq(pd::failures + excluded(pd::failures))))
            .execute(c))?;
        Ok(())
    })
    .await
}

async fn pages(state: &AppState, source: &PullSource) -> AppResult<PullReport> {
    let src = Source::resolve(&source.format, state.service::<super::jobs::Jobs>()?.vendors()).ok_or_else(|| {
        AppError::invalid(
            "format",
            format!("拉取来源 {} 的格式“{}”无效", source.name, source.format),
            format!("pull source {}: unknown format {:?}", source.name, source.format),
        )
    })?;
    let code = source.tenant.clone();
    let (tenant, rules) = state
        .db
        .run(move |conn| {
            let t = crate::tenants::by_code(conn, &code)?;
            let p = policy::of(conn, t.id.as_str())?;
            Ok((t, p))
        })
        .await?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(AppError::internal)?;
    let token = source.token_env.as_ref().and_then(|v| std::env::var(v).ok());
    let mut cursor = cursor_now(&state.db, &source.name).await?;
    let mut report = PullReport { source: source.name.clone(), ..PullReport::default() };
    let limit = rules.max_body_bytes.map(|b| b as u64).unwrap_or(state.config.ingest.max_body_bytes);
    for _ in 0..source.max_pages {
        let mut request = client.get(&source.url).query(&[(source.cursor_param.as_str(), cursor.as_str())]);
        if let Some(t) = &token {
            request = request.bearer_auth(t);
        }
        let response = request
            .send()
            .await
            .map_err(|e| failed(&source.name, format!("无法连接：{e}"), format!("cannot connect: {e}")))?;
        if !response.status().is_success() {
            let status = response.status();
            return Err(failed(&source.name, format!("对方返回 {status}"), format!("the vendor answered {status}")));
        }
        let next =
            response.headers().get(source.cursor_header.as_str()).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(failed(&source.name, format!("一页超过{limit}字节"), format!("a page exceeds {limit} bytes")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(&source.name, format!("读取失败：{e}"), format!("read failed: {e}")))?;
        let intake = Intake {
            channel: Channel::Pull,
            mode: Mode::BestEffort,
            dry_run: false,
            bytes: body.len() as i64,
            actor: format!("pull:{}", source.name),
        };
        let region = &state.config.node.region;
        let job = Job::for_tenant(&tenant, &rules, src.clone(), region.clone(), &state.config, intake)
            .asking(state.find::<crate::registry::references::Upward>());
        let db = state.db.clone();
        let ctx = AuditContext { actor: format!("pull:{}", source.name), ..AuditContext::cli() };
        let receipt =
            actix_web::web::block(move || super::run(&db, &ctx, &job, Box::new(std::io::Cursor::new(body)), &|_| {}))
                .await
                .map_err(AppError::internal)??;
        if let Some(r) = &receipt.refusal {
            return Err(failed(&source.name, r.message_zh.clone(), r.message.clone()));
        }
        report.pages += 1;
        report.received += receipt.received;
        report.accepted += receipt.accepted;
        report.duplicates += receipt.duplicates;
        report.rejected += receipt.rejected;
        report.submissions.push(receipt.submission_id);
        let advanced = next.filter(|n| *n != cursor);
        match advanced {
            Some(n) => {
                cursor = n;
                save(&state.db, &source.name, &cursor, None).await?;
            }
            None => break,
        }
        if receipt.received == 0 {
            break;
        }
    }
    report.cursor = cursor;
    Ok(report)
}
