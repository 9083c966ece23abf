//! CSV downloads of the reports, streamed line by line (never one string of the whole report).
//!
//! Made to open as a table in Excel and WPS as well as in scripts: the file starts with a UTF-8
//! byte order mark (without it, Excel on Windows reads the Chinese as the local code page), the
//! first line is the column names, then one line per row, and the last line is a watermark
//! naming the recorded run:
//! `# lvyue report <kind> id=<report id> by=<subject> role=<role> at=<time>`. Below the table, no
//! spreadsheet takes the watermark for the header. Times are China time to the
//! second (`2026-03-05T10:00:00+08:00`). Fields are quoted by the `csv` crate (RFC 4180, CRLF line
//! ends); money is printed with two decimals (`1280.00`); text that a spreadsheet would take for
//! a formula (`=`, `+`, `-`, `@`, tab, carriage return first) is prefixed with `'` (OWASP CSV
//! injection).

use super::balances::{MerchantBalances, Snapshots};
use super::flows::FundFlows;
use super::milestones::MilestoneReleases;
use super::refund_sla::RefundSla;
use super::run::{ReportKind, ReportRun};
use super::vouchers::VoucherInventory;
use crate::error::{DomainError, DomainResult};
use crate::money::Money;

/// A report that renders as CSV.
pub trait CsvReport {
    const KIND: ReportKind;
    /// Column names.
    fn header(&self) -> &'static [&'static str];
    /// The rows, as fields, in report order.
    fn records(&self) -> Box<dyn Iterator<Item = Vec<String>> + '_>;
}

/// The UTF-8 byte order mark that opens every CSV file.
pub const BOM: &str = "\u{feff}";

/// The report as CSV lines (each ending in CRLF): the header (after the [`BOM`]), the rows,
/// the watermark.
///
/// # Errors
/// `VALIDATION` when `run` records a different kind of report.
pub fn render_csv<'a, R: CsvReport>(
    run: &'a ReportRun,
    report: &'a R,
) -> DomainResult<impl Iterator<Item = String> + 'a> {
    same_kind::<R>(run)?;
    let watermark = format!("# {}\r\n", watermark(run));
    let header = line(report.header().iter().map(|h| (*h).to_owned()).collect());
    Ok(std::iter::once(format!("{BOM}{header}"))
        .chain(report.records().map(line))
        .chain(std::iter::once(watermark)))
}

/// `run` recorded this kind of report.
fn same_kind<R: CsvReport>(run: &ReportRun) -> DomainResult<()> {
    if run.kind == R::KIND {
        return Ok(());
    }
    Err(DomainError::invalid(
        "report",
        format!(
            "report {} was recorded as {}, not {}",
            run.id,
            run.kind,
            R::KIND
        ),
    ))
}

/// What every copy of a report says about itself: which run (logged), by whom, when.
fn watermark(run: &ReportRun) -> String {
    format!(
        "lvyue report {} id={} by={} role={} at={}",
        run.kind,
        run.id,
        watermark_word(&run.subject),
        run.role,
        run.created_at.china_rfc3339()
    )
}

/// The report as an Excel workbook (XLSX): one sheet, the header in bold and frozen, amounts
/// as numbers with two decimals (so that they add up in the spreadsheet), everything else as
/// text; the watermark in the document's properties (title, subject, comments) and in the
/// printed footer of every page.
///
/// # Errors
/// `VALIDATION` when `run` records a different kind of report; `INTERNAL` when the workbook
/// cannot be written.
pub fn render_xlsx<R: CsvReport>(run: &ReportRun, report: &R) -> DomainResult<Vec<u8>> {
    use rust_xlsxwriter::{DocProperties, Format, Workbook};

    same_kind::<R>(run)?;
    let xlsx = |e: rust_xlsxwriter::XlsxError| DomainError::Internal(format!("xlsx: {e}"));
    let mark = watermark(run);
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!("lvyue report {}", run.kind))
            .set_subject(&mark)
            .set_author("lvyue")
            .set_comment(&mark)
            .set_keywords("lvyue, report"),
    );
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("0.00");
    let sheet = workbook.add_worksheet();
    sheet.set_name(run.kind.as_str()).map_err(xlsx)?;
    for (col, name) in (0u16..).zip(report.header()) {
        sheet
            .write_string_with_format(0, col, *name, &bold)
            .map_err(xlsx)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx)?;
    for (row, record) in (1u32..).zip(report.records()) {
        for (col, field) in (0u16..).zip(record) {
            match amount_value(&field) {
                Some(v) => sheet.write_number_with_format(row, col, v, &money),
                None => sheet.write_string(row, col, field),
            }
            .map_err(xlsx)?;
        }
    }
    // `&` starts a header/footer code: doubled, it is a literal.
    sheet.set_footer(format!("&L&8{}", mark.replace('&', "&&")));
    workbook.save_to_buffer().map_err(xlsx)
}

/// A field that is an amount (`-1234.56`), as a number; anything else stays text. Amounts are
/// far below 2^53 fen, so the double holds them exactly to the fen.
fn amount_value(field: &str) -> Option<f64> {
    let digits = field.strip_prefix('-').unwrap_or(field);
    let (int, frac) = digits.split_once('.')?;
    let well_formed = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 2
        && frac.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| field.parse().ok()).flatten()
}

/// One CSV line of fields.
fn line(fields: Vec<String>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(128));
    // Writing into a Vec cannot fail; a failure would leave the line empty rather than panic.
    let _ = w.write_record(&fields);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A subject on the watermark line: one word, no line breaks.
fn watermark_word(s: &str) -> String {
    let w: String = s
        .chars()
        .take(200)
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if w.is_empty() { "-".into() } else { w }
}

/// Free text, defused against spreadsheet formulas.
fn text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

fn amount(m: Money) -> String {
    m.to_string()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

impl CsvReport for FundFlows {
    const KIND: ReportKind = ReportKind::FundFlows;
    fn header(&self) -> &'static [&'static str] {
        &[
            "day",
            "merchant_id",
            "merchant_name",
            "industry",
            "city",
            "collected",
            "released",
            "refunded",
            "deducted",
            "frozen",
            "held",
        ]
    }
    fn records(&self) -> Box<dyn Iterator<Item = Vec<String>> + '_> {
        Box::new(self.rows.iter().map(|r| {
            vec![
                opt(r.day),
                opt(r.merchant),
                text(r.merchant_name.as_deref().unwrap_or("")),
                opt(r.industry),
                opt(r.city.as_ref()),
                amount(r.collected),
                amount(r.released),
                amount(r.refunded),
                amount(r.deducted),
                amount(r.frozen),
                amount(r.held),
            ]
        }))
    }
}

impl CsvReport for MerchantBalances {
    const KIND: ReportKind = ReportKind::Balances;
    fn header(&self) -> &'static [&'static str] {
        &[
            "merchant_id",
            "merchant_name",
            "industry",
            "region",
            "scheme_id",
            "scheme_code",
            "opening",
            "collected",
            "released",
            "refunded",
            "deducted",
            "closing",
            "custody_ratio_bp",
            "required_custody",
            "actual_custody",
            "shortfall",
        ]
    }
    fn records(&self) -> Box<dyn Iterator<Item = Vec<String>> + '_> {
        Box::new(self.rows.iter().map(|r| {
            vec![
                r.merchant.to_string(),
                text(&r.merchant_name),
                r.industry.to_string(),
                r.region.to_string(),
                r.scheme.to_string(),
                text(&r.scheme_code),
                amount(r.opening),
                amount(r.collected),
                amount(r.released),
                amount(r.refunded),
                amount(r.deducted),
                amount(r.closing),
                opt(r.custody_ratio.map(|b| b.get())),
                amount(r.required_custody),
                amount(r.actual_custody),
                amount(r.shortfall),
            ]
        }))
    }
}

impl CsvReport for Snapshots {
    const KIND: ReportKind = ReportKind::DailySnapshots;
    fn header(&self) -> &'static [&'static str] {
        &[
            "date",
            "merchant_id",
            "merchant_name",
            "scheme_id",
            "scheme_code",
            "collected",
            "released",
            "refunded",
            "deducted",
            "closing",
            "in_escrow",
        ]
    }
    fn records(&self) -> Box<dyn Iterator<Item = Vec<String>> + '_> {
        Box::new(self.rows.iter().map(|r| {
            vec![
                r.date.to_string(),
                r.merchant.to_string(),
                text(&r.merchant_name),
                r.scheme.to_string(),
                text(&r.scheme_code),
                amount(r.collected),
                amount(r.released),
                amount(r.refunded),
                amount(r.deducted),
                amount(r.closing),
                amount(r.in_escrow),
            ]
        }))
    }
}

impl CsvReport for MilestoneReleases {
    const KIND: ReportKind = ReportKind::MilestoneReleases;
    fn header(&self) -> &'static [&'static str] {
        &[
            "scheme_id",
            "scheme_code",
            "scheme_name",
            "scheme_collected",
            "scheme_released",
            "milestone_index",
            "milestone_name",
            "released_count",
            "released",
            "outstanding_count",
            "outstanding",
        ]
    }
    fn records(&self) -> Box<dyn Iterator<Item = Vec<String>> + '_> {
        Box::new(self.schemes.iter().flat_map(|s| {
            let scheme = move || {
                vec![
                    s.scheme.to_string(),
                    text(&s.code),
                    text(&s.name),
                    amount(s.collected),
                    amount(s.released),
                ]
            };
            let lines = s.milestones.iter().map(move |m| {
                let mut f = scheme();
                f.extend([
                    m.index.to_string(),
                    text(&m.name),
                    m.released_count.to_string(),
                    amount(m.released),
                    m.outstanding_count.to_string(),
                    amount(m.outstanding),
                ]);
                f
            });
            // Splits and refund deductions: released, but by no milestone.
            let outside = (!s.released_outside_schedule.is_zero()).then(move || {
                let mut f = scheme();
                f.extend([
                    String::new(),
                    "(outside the schedule)".to_owned(),
                    String::new(),
                    amount(s.released_outside_schedule),
                    String::new(),
                    String::new(),
                ]);
                f
            });
            lines.chain(outside)
        }))
    }
}

impl CsvReport for RefundSla {
    const KIND: ReportKind = ReportKind::RefundSla;
    fn header(&self) -> &'static [&'static str] {
        &[
            "refund_id",
            "order_id",
            "order_no",
            "merchant_id",
            "merchant_name",
            "scheme_id",
            "industry",
            "status",
            "requested_at",
            "due_at",
            "executed_at",
            "working_days_allowed",
            "working_days_taken",
            "amount",
            "overdue",
        ]
    }
    fn records(&self) -> Box<dyn Iterator<Item = Vec<String>> + '_> {
        Box::new(self.rows.iter().map(|l| {
            let r = &l.sla;
            vec![
                r.refund.to_string(),
                r.order.to_string(),
                text(&r.order_no),
                r.merchant.to_string(),
                text(&l.merchant_name),
                r.scheme.to_string(),
                r.industry.to_string(),
                r.status.to_string(),
                r.requested_at.china_rfc3339(),
                r.due_at.china_rfc3339(),
                opt(r.executed_at.map(|t| t.china_rfc3339())),
                r.working_days_allowed.to_string(),
                r.working_days_taken.to_string(),
                amount(r.amount),
                r.overdue.to_string(),
            ]
        }))
    }
}

impl CsvReport for VoucherInventory {
    const KIND: ReportKind = ReportKind::VoucherInventory;
    fn header(&self) -> &'static [&'static str] {
        &[
            "scheme_id",
            "project_account_id",
            "status",
            "count",
            "face",
            "balance",
        ]
    }
    fn records(&self) -> Box<dyn Iterator<Item = Vec<String>> + '_> {
        Box::new(self.lines.iter().map(|l| {
            vec![
                l.scheme.to_string(),
                l.project.to_string(),
                l.status.to_string(),
                l.count.to_string(),
                amount(l.face),
                amount(l.balance),
            ]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::amount_value;

    #[test]
    fn only_amounts_become_numbers_in_a_workbook() {
        assert_eq!(amount_value("1234.56"), Some(1234.56));
        assert_eq!(amount_value("-0.01"), Some(-0.01));
        for text in [
            "12.3",
            "1e5",
            "2026-03-02",
            "rpt_1",
            "",
            ".50",
            "1.000",
            "+1.00",
        ] {
            assert_eq!(amount_value(text), None, "{text}");
        }
    }
}
