//! The reports as CSV downloads (`GET /reports/<kind>.csv`): streamed and read line by line as
//! they arrive, each opening with a byte order mark and the header and closing with a watermark
//! whose report id is a recorded run with a notarized `report.run` event; the rows those of the
//! GraphQL report; refusals in the API's JSON error shape.

use serde_json::{Value, json};

use lvyue_domain::principal::Principal;
use lvyue_domain::testing::Backend;

use super::reports::{FROM, TO, balances, fixture, flows};
use super::{events_of, fen, nodes, ok, on_both};
use crate::harness::{TestServer, bank, first_code};

/// A CSV download, read as it arrives.
struct Download {
    status: u16,
    headers: reqwest::header::HeaderMap,
    /// Lines, without their CRLF (nor the first line's byte order mark): the header, the rows,
    /// the watermark.
    lines: Vec<String>,
    /// Body chunks received.
    chunks: usize,
    /// The JSON error body of a refusal.
    error: Value,
}

async fn download(srv: &TestServer, who: Option<&Principal>, path: &str) -> Download {
    let mut req = srv.client.get(srv.url(path));
    if let Some(p) = who {
        req = req.bearer_auth(srv.token(p));
    }
    let mut resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if status != 200 {
        let error = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        return Download {
            status,
            headers,
            lines: Vec::new(),
            chunks: 0,
            error,
        };
    }
    // Line by line, as the chunks come: a line is complete at its CRLF.
    let mut pending: Vec<u8> = Vec::new();
    let mut lines = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        chunks += 1;
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = pending.drain(..end + 2).collect();
            lines.push(String::from_utf8(line[..end].to_vec()).unwrap());
        }
    }
    assert!(pending.is_empty(), "the body ends with a whole line");
    // What Excel and WPS need to read the file as UTF-8.
    let first = lines.first_mut().expect("a header line");
    *first = first
        .strip_prefix('\u{feff}')
        .expect("the file opens with a UTF-8 byte order mark")
        .to_owned();
    Download {
        status,
        headers,
        lines,
        chunks,
        error: Value::Null,
    }
}

/// The watermark: the last line.
fn watermark(d: &Download) -> &str {
    d.lines.last().map(String::as_str).unwrap_or("")
}

/// The rows: between the header and the watermark.
fn data_lines(d: &Download) -> &[String] {
    &d.lines[1..d.lines.len() - 1]
}

fn header<'a>(d: &'a Download, name: &str) -> &'a str {
    d.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn csv_downloads_are_streamed_watermarked_and_notarized(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let srv = &f.srv;
    let r1 = f.w.regulator_principal();
    let d = download(
        srv,
        Some(&r1),
        "/reports/fund-flows.csv?from=2026-03-02&to=2026-03-06&groupBy=MERCHANT",
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.error);
    assert_eq!(header(&d, "content-type"), "text/csv; charset=utf-8");
    assert!(
        d.headers.get("content-length").is_none(),
        "streamed, not sized in advance"
    );
    assert_eq!(header(&d, "cache-control"), "no-store");
    let id = header(&d, "x-lvyue-report-id").to_owned();
    assert!(id.starts_with("rpt_"), "{id}");
    assert_eq!(
        header(&d, "content-disposition"),
        format!("attachment; filename=\"lvyue-fund-flows-{id}.csv\"")
    );
    // The watermark: which report, its id, who, as what, when (the server's clock: Thursday
    // 2026-03-05 10:00 China time), below the table.
    assert_eq!(
        watermark(&d),
        format!(
            "# lvyue report FUND_FLOWS id={id} by={} role=REGULATOR at=2026-03-05T10:00:00+08:00",
            r1.subject
        )
    );
    assert_eq!(
        d.lines[0],
        "day,merchant_id,merchant_name,industry,city,collected,released,refunded,deducted,frozen,held"
    );
    // The rows are the GraphQL report's.
    let g = flows(srv, &r1, json!(["MERCHANT"]), Value::Null).await;
    let rows = nodes(&g["rows"]);
    assert_eq!(d.lines.len(), 2 + rows.len());
    for (line, row) in data_lines(&d).iter().zip(&rows) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[1], row["merchantId"].as_str().unwrap());
        assert_eq!(
            cells[5..]
                .iter()
                .map(|c| (*c).to_owned())
                .collect::<Vec<_>>(),
            [
                "collected",
                "released",
                "refunded",
                "deducted",
                "frozen",
                "held"
            ]
            .iter()
            .map(|k| row[*k].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
        );
    }

    // The run is on the record, and its event is in the notarized log.
    let run = ok(
        srv,
        &r1,
        "query($id: ID!) { reportRun(id: $id) { id kind subject role params createdAt } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        (
            &run["reportRun"]["kind"],
            &run["reportRun"]["role"],
            &run["reportRun"]["subject"]
        ),
        (
            &json!("FUND_FLOWS"),
            &json!("REGULATOR"),
            &json!(r1.subject)
        )
    );
    assert_eq!(run["reportRun"]["params"]["report"], "fund-flows");
    assert_eq!(run["reportRun"]["params"]["group_by"], json!(["MERCHANT"]));
    let others = srv
        .gql(
            Some(&f.w.merchant_principal()),
            "query($id: ID!) { reportRun(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(first_code(&others), "NOT_FOUND");
    let runs = ok(
        srv,
        &bank(),
        "{ reportRuns(first: 200) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert!(
        nodes(&runs["reportRuns"])
            .iter()
            .any(|r| r["id"] == id.as_str())
    );
    let events = events_of(srv, "report.run").await;
    let event = events
        .iter()
        .find(|e| e["data"]["report_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no report.run event for {id}: {events:?}"));
    assert_eq!(event["data"]["kind"], "FUND_FLOWS");
    assert_eq!(event["data"]["subject"], r1.subject.as_str());
    srv.sync_log().await;
    let proof = srv
        .gql(
            None,
            "query($e: ID!) { inclusionProofByEvent(event: $e) { leafIndex treeSize leafHash checkpoint } }",
            json!({"e": event["id"]}),
        )
        .await;
    let proof = TestServer::ok(proof);
    assert!(
        proof["inclusionProofByEvent"]["checkpoint"].is_string(),
        "{proof}"
    );
    let leaf = ok(
        srv,
        &bank(),
        "query($e: ID!) { event(id: $e) { leafHash } }",
        json!({"e": event["id"]}),
    )
    .await;
    assert_eq!(
        proof["inclusionProofByEvent"]["leafHash"],
        leaf["event"]["leafHash"]
    );

    // Every report downloads, its watermark naming it; the balances file adds up as GraphQL.
    for (path, kind) in [
        (
            "merchant-balances.csv?from=2026-03-02&to=2026-03-06",
            "BALANCES",
        ),
        (
            "snapshots.csv?from=2026-03-02&to=2026-03-06&frequency=DAILY",
            "DAILY_SNAPSHOTS",
        ),
        (
            "releases-by-milestone.csv?from=2026-03-02&to=2026-03-06",
            "MILESTONE_RELEASES",
        ),
        ("refund-sla.csv?from=2026-03-02&to=2026-03-06", "REFUND_SLA"),
        ("voucher-inventory.csv", "VOUCHER_INVENTORY"),
        (
            "fund-flows.csv?from=2026-03-02T00:00:00%2B08:00&to=2026-03-06T00:00:00%2B08:00&industry=DRIVING_SCHOOL&regionPrefix=3201",
            "FUND_FLOWS",
        ),
    ] {
        let d = download(srv, Some(&bank()), &format!("/reports/{path}")).await;
        assert_eq!(d.status, 200, "{path}: {}", d.error);
        assert!(
            watermark(&d).starts_with(&format!("# lvyue report {kind} id=rpt_")),
            "{}",
            watermark(&d)
        );
        assert!(watermark(&d).contains(" role=BANK "), "{}", watermark(&d));
        if kind == "BALANCES" {
            let closing: i64 = data_lines(&d)
                .iter()
                .map(|l| fen(&json!(l.split(',').nth(11).unwrap())))
                .sum();
            let g = balances(srv, &bank(), FROM, TO).await;
            assert_eq!(closing, fen(&g["totals"]["closing"]));
        }
    }

    // A year of daily snapshots: many chunks, read line by line as they arrive.
    let d = download(
        srv,
        Some(&bank()),
        "/reports/snapshots.csv?from=2026-03-02&to=2027-03-02",
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.error);
    let g = ok(
        srv,
        &bank(),
        "{ snapshots(from: \"2026-03-02T00:00:00+08:00\", to: \"2027-03-02T00:00:00+08:00\") { totalCount } }",
        json!({}),
    )
    .await;
    let n = g["snapshots"]["totalCount"].as_u64().unwrap() as usize;
    assert!(n > 700, "{n}");
    assert_eq!(d.lines.len(), 2 + n);
    assert!(d.chunks > 2, "{} chunks", d.chunks);
    assert!(data_lines(&d).iter().all(|l| l.split(',').count() == 11));

    // Refusals, in the API's JSON error shape.
    let cases = [
        (
            None,
            "/reports/fund-flows.csv?from=2026-03-02&to=2026-03-06",
            401,
            "UNAUTHENTICATED",
        ),
        (
            Some(f.w.payer_principal()),
            "/reports/fund-flows.csv?from=2026-03-02&to=2026-03-06",
            403,
            "FORBIDDEN",
        ),
        (
            Some(f.w.court_principal()),
            "/reports/refund-sla.csv?from=2026-03-02&to=2026-03-06",
            403,
            "FORBIDDEN",
        ),
        (
            Some(bank()),
            "/reports/fund-flows.csv?to=2026-03-06",
            400,
            "VALIDATION",
        ),
        (
            Some(bank()),
            "/reports/fund-flows.csv?from=2026-03-06&to=2026-03-02",
            400,
            "VALIDATION",
        ),
        (
            Some(bank()),
            "/reports/fund-flows.csv?from=2026-03-02&to=2026-03-06&groupBy=WEEK",
            400,
            "VALIDATION",
        ),
        (
            Some(bank()),
            "/reports/fund-flows.csv?from=2026-03-02&to=2026-03-06&colour=red",
            400,
            "VALIDATION",
        ),
        (
            Some(bank()),
            "/reports/voucher-inventory.csv?from=2026-03-02",
            400,
            "VALIDATION",
        ),
        (
            Some(bank()),
            "/reports/everything.csv?from=2026-03-02&to=2026-03-06",
            404,
            "NOT_FOUND",
        ),
    ];
    for (who, path, status, code) in cases {
        let d = download(srv, who.as_ref(), path).await;
        assert_eq!(
            (d.status, first_code(&d.error)),
            (status, code),
            "{path}: {}",
            d.error
        );
    }
}
on_both!(csv_downloads_are_streamed_watermarked_and_notarized);

async fn downloads_are_rate_limited_like_graphql(backend: Backend) {
    let Some((srv, _clock)) = super::start(backend, |c| {
        c.limits.rate_limit_per_minute = 1;
        c.limits.rate_limit_burst = 2;
    })
    .await
    else {
        return;
    };
    for _ in 0..2 {
        let d = download(&srv, Some(&bank()), "/reports/voucher-inventory.csv").await;
        assert_eq!(d.status, 200, "{}", d.error);
        assert_eq!(d.lines.len(), 2, "header and watermark, no vouchers");
    }
    let d = download(&srv, Some(&bank()), "/reports/voucher-inventory.csv").await;
    assert_eq!((d.status, first_code(&d.error)), (429, "LIMIT_EXCEEDED"));
    assert!(d.headers.get("retry-after").is_some());
}
on_both!(downloads_are_rate_limited_like_graphql);

/// A downloaded report opens in a spreadsheet as a table: LibreOffice (headless), reading it as
/// UTF-8 — what Excel and WPS choose from the byte order mark; headless LibreOffice does not
/// look at the mark by itself — finds the column names in the first row with no mark left in
/// the first cell, the Chinese names intact and the watermark in the last row. The file is kept
/// in the target directory for review. Runs where `soffice` is installed; `.ci/run` installs it
/// and sets `LVYUE_TEST_SPREADSHEET`, which makes a missing `soffice` a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_report_opens_as_a_table_in_a_spreadsheet() {
    if !soffice_runs() {
        return;
    }
    let Some(f) = fixture(Backend::Sqlite).await else {
        return;
    };
    let resp = f
        .srv
        .client
        .get(
            f.srv
                .url("/reports/merchant-balances.csv?from=2026-03-02&to=2026-03-06"),
        )
        .bearer_auth(f.srv.token(&bank()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.bytes().await.unwrap();
    // Opened as comma-separated, double-quoted UTF-8 text; saved back as such.
    let opened = open_as_csv(&body, "merchant-balances.csv", Some("CSV:44,34,76")).await;
    let rows: Vec<&str> = opened.lines().collect();
    assert!(
        rows[0].starts_with("merchant_id,merchant_name,"),
        "the header is the first row: {opened}"
    );
    assert!(
        rows.iter().any(|r| r.contains("秦淮驾校")),
        "Chinese names read as written: {opened}"
    );
    let last = rows.last().unwrap();
    assert!(
        last.starts_with("# lvyue report BALANCES id=rpt_"),
        "{last}"
    );
    let sent = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(rows.len(), sent.lines().count(), "one row per line sent");
}

/// The same report as a workbook: LibreOffice (headless) opens it and finds the CSV's rows,
/// amounts as numbers shown with two decimals; the watermark is in the document properties and
/// the printed footer. Runs where `soffice` is installed, as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_workbook_has_the_csv_rows_and_the_watermark() {
    if !soffice_runs() {
        return;
    }
    let Some(f) = fixture(Backend::Sqlite).await else {
        return;
    };
    let get = |path: &str| {
        let req = f
            .srv
            .client
            .get(f.srv.url(path))
            .bearer_auth(f.srv.token(&bank()));
        async move { req.send().await.unwrap() }
    };
    let query = "?from=2026-03-02&to=2026-03-06";
    let csv = get(&format!("/reports/merchant-balances.csv{query}")).await;
    let csv = String::from_utf8(csv.bytes().await.unwrap().to_vec()).unwrap();
    let resp = get(&format!("/reports/merchant-balances.xlsx{query}")).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let id = resp.headers()["x-lvyue-report-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let disposition = resp.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.ends_with(&format!("{id}.xlsx\"")),
        "{disposition}"
    );
    let body = resp.bytes().await.unwrap();

    // The watermark, in the properties and in the footer.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body.to_vec())).unwrap();
    let part = |zip: &mut zip::ZipArchive<_>, name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut text).unwrap();
        text
    };
    let mark = format!("lvyue report BALANCES id={id} by=");
    assert!(part(&mut zip, "docProps/core.xml").contains(&mark));
    assert!(part(&mut zip, "xl/worksheets/sheet1.xml").contains(&mark));

    let opened = open_as_csv(&body, "merchant-balances.xlsx", None).await;
    let unquoted = |s: &str| s.replace('"', "");
    let from_workbook: Vec<String> = opened.lines().map(unquoted).collect();
    let from_csv: Vec<String> = csv
        .trim_start_matches(lvyue_domain::report::BOM)
        .lines()
        .filter(|l| !l.starts_with("# lvyue report"))
        .map(unquoted)
        .collect();
    assert!(from_csv.len() > 1, "{csv}");
    assert_eq!(from_workbook, from_csv, "the workbook has the CSV's rows");
}

/// Whether LibreOffice runs here; where it does not, a spreadsheet test is skipped, unless
/// `LVYUE_TEST_SPREADSHEET` is set (CI), when it fails.
fn soffice_runs() -> bool {
    let runs = std::process::Command::new("soffice")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        assert!(
            std::env::var_os("LVYUE_TEST_SPREADSHEET").is_none(),
            "LVYUE_TEST_SPREADSHEET is set but soffice does not run"
        );
        eprintln!("skipped: soffice (LibreOffice) is not installed");
    }
    runs
}

/// Keeps `body` as `name` under the target directory (for review), opens it in headless
/// LibreOffice (with the import filter `infilter`, if given), saves it as comma-separated,
/// double-quoted UTF-8 text into a folder of its own per file type (tests run in parallel) and
/// returns that text.
async fn open_as_csv(body: &[u8], name: &str, infilter: Option<&str>) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reports");
    let file = dir.join(name);
    let kind = file.extension().unwrap().to_str().unwrap();
    let out = dir.join(format!("opened-{kind}"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(&file, body).unwrap();
    let stem = file.file_stem().unwrap().to_str().unwrap();
    let converted = out.join(format!("{stem}.csv"));
    // soffice can exit 0 without writing: a file left by an earlier run must not pass for it.
    let _ = std::fs::remove_file(&converted);
    let profile = tempfile::tempdir().unwrap();
    let mut soffice = tokio::process::Command::new("soffice");
    soffice
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().display()
        ))
        .arg("--headless");
    if let Some(filter) = infilter {
        soffice.arg(format!("--infilter={filter}"));
    }
    let status = soffice
        .args(["--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76"])
        .arg("--outdir")
        .arg(&out)
        .arg(&file)
        .status()
        .await
        .unwrap();
    assert!(
        status.success(),
        "soffice could not open {}",
        file.display()
    );
    std::fs::read_to_string(&converted).unwrap()
}
