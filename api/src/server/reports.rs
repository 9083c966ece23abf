//! CSV and Excel downloads of the regulator reports (docs/domain.md: "Exportable (CSV) and
//! queryable by time range, region, industry, merchant"). A CSV is streamed, opening with a
//! UTF-8 byte order mark and the column names so that Excel and WPS open it as a table, and
//! closing with a watermark naming the requesting principal, the time and a report id that is
//! itself logged (`lvyue_domain::report::render_csv`). A workbook (`.xlsx`) has the same rows,
//! amounts as numbers, and the watermark in its document properties and printed footer
//! (`lvyue_domain::report::render_xlsx`):
//!
//! ```text
//! GET /reports/<kind>.csv?from=2026-03-01&to=2026-04-01&industry=DRIVING_SCHOOL&regionPrefix=3201
//! GET /reports/<kind>.xlsx?…
//! Authorization: Bearer <JWT>
//! ```
//!
//! Kinds: `fund-flows` (with `groupBy=DAY,MERCHANT,INDUSTRY,REGION`), `merchant-balances`,
//! `snapshots` (with `frequency=DAILY|QUARTER_END`), `releases-by-milestone`, `refund-sla`,
//! `voucher-inventory` (as it stands now: `scheme` only, no period). Every report but the
//! inventory takes `from` (inclusive) and `to` (exclusive), each an RFC 3339 time or a date
//! (midnight China time starting that day), and the filters `merchant`, `scheme`, `industry`,
//! `regionPrefix`. Scoping is the domain's, as in GraphQL.
//!
//! A download is, in order: authenticated and rate-limited as `/graphql` is; its parameters
//! validated; recorded ([`RecordReportRun`]: a `report_run` row and a notarized `report.run`
//! event whose id the watermark prints); computed; then streamed. The rows are typed data in
//! memory (bounded by the domain's `MAX_REPORT_ROWS`); their CSV text never is: a blocking task
//! renders it line by line into a small bounded channel, so a slow reader holds back the
//! rendering instead of the server buffering the file. Errors are answered with the JSON error
//! shape and codes of the rest of the API.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use serde_json::json;

use lvyue_domain::DomainError;
use lvyue_domain::access::{MAX_OBJECTS, MAX_ORDERS, RecordAccess};
use lvyue_domain::clock::Timestamp;
use lvyue_domain::ids::{OrderId, PartyId, SchemeId};
use lvyue_domain::principal::{Industry, Principal, RegionPrefix};
use lvyue_domain::report::{
    self as dreport, CsvReport, FlowDimension, FlowQuery, Period, RecordReportRun, ReportFilter,
    ReportKind, ReportRun, SnapshotFrequency,
};

use super::graphql::{authorization, rate_limited, refuse};
use super::{AppState, ClientAddr};
use crate::error::{self, ErrorCode};
use crate::rate_limit::RateKey;

/// CSV text handed to the connection at a time.
const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks rendered ahead of the reader.
const CHUNKS_AHEAD: usize = 4;
/// Most `groupBy` dimensions.
const MAX_GROUP_BY: usize = 4;

/// The downloadable reports, by their URL name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FundFlows,
    MerchantBalances,
    Snapshots,
    ReleasesByMilestone,
    RefundSla,
    VoucherInventory,
}

/// What a download is rendered as, by the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileFormat {
    /// Streamed, line by line.
    Csv,
    /// An Excel workbook, rendered whole (the rows are bounded by the domain) then sent.
    Xlsx,
}

impl FileFormat {
    fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            FileFormat::Csv => "text/csv; charset=utf-8",
            FileFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::FundFlows,
        Kind::MerchantBalances,
        Kind::Snapshots,
        Kind::ReleasesByMilestone,
        Kind::RefundSla,
        Kind::VoucherInventory,
    ];

    fn slug(self) -> &'static str {
        match self {
            Kind::FundFlows => "fund-flows",
            Kind::MerchantBalances => "merchant-balances",
            Kind::Snapshots => "snapshots",
            Kind::ReleasesByMilestone => "releases-by-milestone",
            Kind::RefundSla => "refund-sla",
            Kind::VoucherInventory => "voucher-inventory",
        }
    }

    /// `fund-flows.csv` → fund flows as CSV; `fund-flows.xlsx` → as a workbook.
    fn from_file(file: &str) -> Option<(Kind, FileFormat)> {
        let (slug, format) = match file.rsplit_once('.')? {
            (slug, "csv") => (slug, FileFormat::Csv),
            (slug, "xlsx") => (slug, FileFormat::Xlsx),
            _ => return None,
        };
        Kind::ALL
            .into_iter()
            .find(|k| k.slug() == slug)
            .map(|k| (k, format))
    }

    fn report_kind(self) -> ReportKind {
        match self {
            Kind::FundFlows => ReportKind::FundFlows,
            Kind::MerchantBalances => ReportKind::Balances,
            Kind::Snapshots => ReportKind::DailySnapshots,
            Kind::ReleasesByMilestone => ReportKind::MilestoneReleases,
            Kind::RefundSla => ReportKind::RefundSla,
            Kind::VoucherInventory => ReportKind::VoucherInventory,
        }
    }
}

/// The query string as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CsvParams {
    from: Option<String>,
    to: Option<String>,
    merchant: Option<String>,
    scheme: Option<String>,
    industry: Option<String>,
    region_prefix: Option<String>,
    group_by: Option<String>,
    frequency: Option<String>,
}

/// A validated download request.
#[derive(Debug, Clone)]
struct Request {
    kind: Kind,
    format: FileFormat,
    /// `None` for the voucher inventory (as it stands now).
    period: Option<Period>,
    filter: ReportFilter,
    group_by: Vec<FlowDimension>,
    frequency: SnapshotFrequency,
}

impl Request {
    /// What the run records (and the watermark's id points to).
    fn params(&self) -> serde_json::Value {
        let mut p = json!({ "report": self.kind.slug() });
        if let Some(period) = self.period {
            p["from"] = json!(period.from.rfc3339());
            p["to"] = json!(period.to.rfc3339());
        }
        let f = &self.filter;
        p["filter"] = json!({
            "merchant": f.merchant,
            "scheme": f.scheme,
            "industry": f.industry,
            "region_prefix": f.region_prefix,
        });
        if self.kind == Kind::FundFlows {
            p["group_by"] = json!(self.group_by);
        }
        if self.kind == Kind::Snapshots {
            p["frequency"] = json!(self.frequency);
        }
        p
    }

    fn period(&self) -> Result<Period, DomainError> {
        self.period
            .ok_or_else(|| DomainError::invalid("from", "is required"))
    }
}

/// `2026-03-01T00:00:00+08:00` (any offset), or `2026-03-01`: midnight China time.
fn instant(field: &'static str, s: &str) -> Result<Timestamp, DomainError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Timestamp::from_utc(t.to_utc()));
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(Timestamp::china_midnight(d));
    }
    Err(DomainError::invalid(
        field,
        "must be an RFC 3339 time such as 2026-03-01T00:00:00+08:00, or a date such as 2026-03-01 (midnight China time)",
    ))
}

fn parse(kind: Kind, format: FileFormat, p: CsvParams) -> Result<Request, DomainError> {
    let not_here = |field: &'static str| {
        DomainError::invalid(
            field,
            format!("does not apply to the {} report", kind.slug()),
        )
    };
    let period = if kind == Kind::VoucherInventory {
        if p.from.is_some() || p.to.is_some() {
            return Err(not_here("from"));
        }
        for (field, given) in [
            ("merchant", p.merchant.is_some()),
            ("industry", p.industry.is_some()),
            ("regionPrefix", p.region_prefix.is_some()),
        ] {
            if given {
                return Err(not_here(field));
            }
        }
        None
    } else {
        let from = p
            .from
            .as_deref()
            .ok_or_else(|| DomainError::invalid("from", "is required"))?;
        let to =
            p.to.as_deref()
                .ok_or_else(|| DomainError::invalid("to", "is required"))?;
        Some(Period::new(instant("from", from)?, instant("to", to)?)?)
    };
    let filter = ReportFilter {
        merchant: p
            .merchant
            .as_deref()
            .map(str::parse::<PartyId>)
            .transpose()?,
        scheme: p
            .scheme
            .as_deref()
            .map(str::parse::<SchemeId>)
            .transpose()?,
        industry: p
            .industry
            .as_deref()
            .map(str::parse::<Industry>)
            .transpose()?,
        region_prefix: p
            .region_prefix
            .as_deref()
            .map(str::parse::<RegionPrefix>)
            .transpose()?,
    };
    let group_by = match (&p.group_by, kind) {
        (None, _) => Vec::new(),
        (Some(g), Kind::FundFlows) => {
            let mut dims: Vec<FlowDimension> = Vec::new();
            for word in g.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                let d: FlowDimension = word.to_ascii_uppercase().parse()?;
                if !dims.contains(&d) {
                    dims.push(d);
                }
            }
            if dims.len() > MAX_GROUP_BY {
                return Err(DomainError::invalid(
                    "groupBy",
                    format!("at most {MAX_GROUP_BY} dimensions"),
                ));
            }
            dims
        }
        (Some(_), _) => return Err(not_here("groupBy")),
    };
    let frequency = match (&p.frequency, kind) {
        (None, _) => SnapshotFrequency::Daily,
        (Some(f), Kind::Snapshots) => f.trim().to_ascii_uppercase().parse()?,
        (Some(_), _) => return Err(not_here("frequency")),
    };
    Ok(Request {
        kind,
        format,
        period,
        filter,
        group_by,
        frequency,
    })
}

/// The HTTP status of a domain error's code.
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Validation => StatusCode::BAD_REQUEST,
        ErrorCode::LimitExceeded => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Conflict | ErrorCode::InvalidState | ErrorCode::InsufficientFunds => {
            StatusCode::CONFLICT
        }
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A domain error as the API answers it (internal ones logged and not described).
fn domain_error(state: &AppState, e: DomainError) -> Response {
    let code = e.code();
    if code == ErrorCode::Internal {
        tracing::error!(error = ?e, "report download failed");
        return refuse(state, status_of(code), code, error::INTERNAL_MESSAGE);
    }
    refuse(state, status_of(code), code, &e.to_string())
}

/// `GET /reports/{file}`.
pub(super) async fn download(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    Path(file): Path<String>,
    headers: HeaderMap,
    params: Result<Query<CsvParams>, QueryRejection>,
) -> Response {
    let principal = authorization(&headers).and_then(|h| state.auth.authenticate_header(h));
    let key = match &principal {
        Ok(Some(p)) => RateKey::subject(&p.subject),
        _ => RateKey::address(client.0.ip()),
    };
    if let Err(retry_after) = state.rate_limiter.check(&key) {
        return rate_limited(&state, retry_after);
    }
    let principal = match principal {
        Ok(Some(p)) => p,
        Ok(None) => {
            return refuse(
                &state,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                "reports need a bearer token",
            );
        }
        Err(e) => {
            return refuse(
                &state,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                &e.to_string(),
            );
        }
    };
    let principal = match lvyue_domain::registration::registered(state.escrow.db(), principal).await
    {
        Ok(p) => p,
        Err(e) => return super::graphql::refuse_domain(&state, &e),
    };
    let Some((kind, format)) = Kind::from_file(&file) else {
        let known: Vec<String> = Kind::ALL
            .iter()
            .map(|k| format!("{}.csv (or .xlsx)", k.slug()))
            .collect();
        return refuse(
            &state,
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            &format!("no such report; reports are {}", known.join(", ")),
        );
    };
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                ErrorCode::Validation,
                &format!("bad query string: {}", e.body_text()),
            );
        }
    };
    let request = match parse(kind, format, params) {
        Ok(r) => r,
        Err(e) => return domain_error(&state, e),
    };
    let Ok(permit) = state.report_downloads.clone().try_acquire_owned() else {
        return refuse(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::LimitExceeded,
            "too many report downloads at once; try again shortly",
        );
    };
    // Recorded before anything is computed or sent: the watermark names this run.
    let record = RecordReportRun {
        kind: kind.report_kind(),
        params: request.params(),
    };
    let run = match state.escrow.execute(&principal, None, &record).await {
        Ok(run) => run,
        Err(e) => return domain_error(&state, e),
    };
    let body = match render(&state, &principal, &request, run.clone(), permit).await {
        Ok(b) => b,
        Err(e) => return domain_error(&state, e),
    };
    file_response(kind, format, &run, body)
}

fn file_response(kind: Kind, format: FileFormat, run: &ReportRun, body: Body) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // The file name is ours (slug and id), never input: always a valid header value.
    let disposition = format!(
        "attachment; filename=\"lvyue-{}-{}.{}\"",
        kind.slug(),
        run.id,
        format.extension()
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&run.id.to_string()) {
        h.insert("x-lvyue-report-id", v);
    }
    // Supervisory data: no shared caches, no content sniffing.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Computes the report and starts streaming it.
async fn render(
    state: &AppState,
    p: &Principal,
    req: &Request,
    run: ReportRun,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<Body, DomainError> {
    let db = state.escrow.db();
    // Reports judged "now" (open refunds, the inventory) are judged at the run's time.
    let now = run.created_at;
    match req.kind {
        Kind::FundFlows => {
            let q = FlowQuery {
                period: req.period()?,
                filter: req.filter.clone(),
                group_by: req.group_by.clone(),
            };
            deliver(
                state,
                p,
                req,
                run,
                dreport::fund_flows(db, p, &q).await?,
                permit,
            )
            .await
        }
        Kind::MerchantBalances => {
            deliver(
                state,
                p,
                req,
                run,
                dreport::balances(db, p, req.period()?, &req.filter).await?,
                permit,
            )
            .await
        }
        Kind::Snapshots => {
            deliver(
                state,
                p,
                req,
                run,
                dreport::snapshots(db, p, req.period()?, &req.filter, req.frequency).await?,
                permit,
            )
            .await
        }
        Kind::ReleasesByMilestone => {
            deliver(
                state,
                p,
                req,
                run,
                dreport::releases_by_milestone(db, p, req.period()?, &req.filter).await?,
                permit,
            )
            .await
        }
        Kind::RefundSla => {
            deliver(
                state,
                p,
                req,
                run,
                dreport::refund_sla(db, p, req.period()?, &req.filter, now).await?,
                permit,
            )
            .await
        }
        Kind::VoucherInventory => {
            deliver(
                state,
                p,
                req,
                run,
                dreport::voucher_inventory(db, p, req.filter.scheme, now).await?,
                permit,
            )
            .await
        }
    }
}

/// The report's body, once a regulator's or a court's download is on the record with the rows
/// it carries: their count and SHA-256, and every party and order they name.
async fn deliver<R: CsvReport + Send + 'static>(
    state: &AppState,
    p: &Principal,
    req: &Request,
    run: ReportRun,
    report: R,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<Body, DomainError> {
    if super::access::supervised(p) {
        record_rows(state, p, req, &run, &report).await?;
    }
    match req.format {
        FileFormat::Csv => stream(run, report, permit),
        FileFormat::Xlsx => workbook(run, report, permit).await,
    }
}

/// The body of a report as a workbook, rendered on a blocking thread.
async fn workbook<R: CsvReport + Send + 'static>(
    run: ReportRun,
    report: R,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<Body, DomainError> {
    let bytes = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        dreport::render_xlsx(&run, &report)
    })
    .await
    .map_err(|e| DomainError::Internal(format!("rendering a workbook: {e}")))??;
    Ok(Body::from(bytes))
}

/// Records what a download carries; a long report takes several records (each within the
/// access record's limits), all written before the first byte is sent.
async fn record_rows<R: CsvReport>(
    state: &AppState,
    p: &Principal,
    req: &Request,
    run: &ReportRun,
    report: &R,
) -> Result<(), DomainError> {
    use sha2::{Digest, Sha256};
    use std::collections::BTreeSet;

    let mut digest = Sha256::new();
    let mut rows = 0u64;
    let mut parties = BTreeSet::new();
    let mut orders = BTreeSet::new();
    for record in report.records() {
        rows += 1;
        for field in &record {
            digest.update(field.as_bytes());
            digest.update([0x1f]);
            if let Ok(o) = field.parse::<OrderId>() {
                orders.insert(o);
            } else if let Ok(party) = field.parse::<PartyId>() {
                parties.insert(format!("party {party}"));
            }
        }
        digest.update(b"\n");
    }
    let head = vec![
        format!("report run {}", run.id),
        format!("rows {rows}"),
        format!("rows sha256 {}", hex::encode(digest.finalize())),
    ];
    let asked = vec![format!(
        "{}.{} {}",
        req.kind.slug(),
        req.format.extension(),
        req.params()
    )];
    let parties: Vec<String> = parties.into_iter().collect();
    let orders: Vec<OrderId> = orders.into_iter().collect();
    let mut party_chunks = parties.chunks(MAX_OBJECTS - head.len());
    let mut order_chunks = orders.chunks(MAX_ORDERS);
    let mut first = true;
    loop {
        let (ps, os) = (party_chunks.next(), order_chunks.next());
        if !first && ps.is_none() && os.is_none() {
            return Ok(());
        }
        let mut objects = if first { head.clone() } else { Vec::new() };
        objects.extend(ps.unwrap_or_default().iter().cloned());
        let cmd = RecordAccess {
            operation: "report".into(),
            asked: asked.clone(),
            objects,
            orders: os.unwrap_or_default().to_vec(),
            ..RecordAccess::default()
        };
        state.escrow.execute(p, None, &cmd).await?;
        first = false;
    }
}

/// The body of a report: its CSV lines rendered by a blocking task into a bounded channel, in
/// chunks of about [`CHUNK_BYTES`] (the header in a chunk of its own, at once).
fn stream<R: CsvReport + Send + 'static>(
    run: ReportRun,
    report: R,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<Body, DomainError> {
    if run.kind != R::KIND {
        return Err(DomainError::Invariant(format!(
            "report run {} was recorded as {}, rendering {}",
            run.id,
            run.kind,
            R::KIND
        )));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        // Held until the last line is handed over (or the reader went away).
        let _permit = permit;
        let lines = match dreport::render_csv(&run, &report) {
            Ok(lines) => lines,
            Err(e) => {
                tracing::error!(error = %e, "cannot render a report");
                return;
            }
        };
        let mut chunk = String::with_capacity(CHUNK_BYTES + 1024);
        for (i, line) in lines.enumerate() {
            chunk.push_str(&line);
            // Line 0 is the header: sent at once, so the client sees the download begin.
            if (i == 0 || chunk.len() >= CHUNK_BYTES)
                && tx
                    .blocking_send(Bytes::from(std::mem::take(&mut chunk)))
                    .is_err()
            {
                // The client went away: stop rendering.
                return;
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Bytes::from(chunk));
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(Ok::<Bytes, Infallible>))
    });
    Ok(Body::from_stream(body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The query string as axum's `Query` deserializes it.
    fn params(q: &str) -> CsvParams {
        let uri: axum::http::Uri = format!("/reports/x.csv?{q}").parse().unwrap();
        Query::<CsvParams>::try_from_uri(&uri).unwrap().0
    }

    #[test]
    fn kinds_are_named_by_their_files() {
        for k in Kind::ALL {
            assert_eq!(
                Kind::from_file(&format!("{}.csv", k.slug())),
                Some((k, FileFormat::Csv))
            );
            assert_eq!(
                Kind::from_file(&format!("{}.xlsx", k.slug())),
                Some((k, FileFormat::Xlsx))
            );
        }
        assert_eq!(Kind::from_file("fund-flows"), None);
        assert_eq!(Kind::from_file("fund-flows.json"), None);
        assert_eq!(Kind::from_file("../etc/passwd"), None);
    }

    #[test]
    fn dates_and_times_both_make_a_period() {
        let r = parse(
            Kind::FundFlows,
            FileFormat::Csv,
            params("from=2026-03-01&to=2026-03-02T00:00:00%2B08:00&groupBy=day,MERCHANT,day"),
        )
        .unwrap();
        let p = r.period.unwrap();
        assert_eq!(p.to.0 - p.from.0, 86_400_000_000);
        assert_eq!(r.group_by, [FlowDimension::Day, FlowDimension::Merchant]);
        assert_eq!(r.params()["group_by"], json!(["DAY", "MERCHANT"]));
    }

    #[test]
    fn parameters_are_validated() {
        let bad = [
            (Kind::FundFlows, "to=2026-03-02"),
            (Kind::FundFlows, "from=2026-03-02&to=2026-03-01"),
            (Kind::FundFlows, "from=yesterday&to=2026-03-01"),
            (
                Kind::FundFlows,
                "from=2026-03-01&to=2026-03-02&groupBy=WEEK",
            ),
            (
                Kind::MerchantBalances,
                "from=2026-03-01&to=2026-03-02&groupBy=DAY",
            ),
            (
                Kind::Snapshots,
                "from=2026-03-01&to=2026-03-02&frequency=HOURLY",
            ),
            (
                Kind::FundFlows,
                "from=2026-03-01&to=2026-03-02&industry=BAKERY",
            ),
            (
                Kind::FundFlows,
                "from=2026-03-01&to=2026-03-02&regionPrefix=3",
            ),
            (Kind::VoucherInventory, "from=2026-03-01"),
        ];
        for (kind, q) in bad {
            let e = parse(kind, FileFormat::Csv, params(q)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Validation, "{q}: {e}");
        }
        let ok = parse(
            Kind::VoucherInventory,
            FileFormat::Xlsx,
            params("scheme=sch_1"),
        )
        .unwrap();
        assert!(ok.period.is_none());
    }

    #[test]
    fn every_code_has_its_status() {
        assert_eq!(status_of(ErrorCode::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(status_of(ErrorCode::Validation), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(ErrorCode::Internal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
