//! Merchant onboarding checks (docs/domain.md, "Checks on merchants"): the USCC checksum, the
//! licence's fields and status, and the blocking lists. Each check's input, time and result is
//! recorded as an event, so the evidence of why a merchant was accepted, reviewed or blocked is
//! in the notarized log.

use serde_json::json;

use crate::command::Tx;
use crate::error::DomainResult;
use crate::event::NewEvent;
use crate::identity::UsccCheck;
use crate::ids::PartyId;
use crate::party::{Licence, PartyStatus};

/// Licence statuses that mean the business is operating (存续, 在业).
pub const ACTIVE_LICENCE_STATUSES: [&str; 2] = ["存续", "在业"];

pub use crate::screening::{CheckResult, Outcome};

/// All checks and the status they lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    pub checks: Vec<CheckResult>,
    pub status: PartyStatus,
}

/// Runs the onboarding checks of a merchant about to be registered.
///
/// # Errors
/// Database errors (list lookups).
pub async fn check(
    tx: &Tx<'_>,
    name: &str,
    uscc: &str,
    uscc_check: UsccCheck,
    licence: Option<&Licence>,
) -> DomainResult<Onboarding> {
    let today = tx.now.china_date();
    let mut checks = vec![CheckResult {
        check: "uscc_checksum",
        input: uscc.to_owned(),
        outcome: if uscc_check == UsccCheck::Valid {
            Outcome::Pass
        } else {
            Outcome::Review
        },
        detail: if uscc_check == UsccCheck::Valid {
            "check character matches GB 32100-2015".into()
        } else {
            "check character does not match GB 32100-2015; some early codes are legal yet fail, so a person must confirm".into()
        },
    }];
    match licence {
        None => checks.push(CheckResult {
            check: "licence_present",
            input: String::new(),
            outcome: Outcome::Review,
            detail: "no business licence fields were supplied".into(),
        }),
        Some(l) => {
            checks.push(CheckResult {
                check: "licence_name",
                input: l.registered_name.clone(),
                outcome: if l.registered_name.trim() == name {
                    Outcome::Pass
                } else {
                    Outcome::Review
                },
                detail: format!(
                    "licence name {:?} against merchant name {:?}",
                    l.registered_name.trim(),
                    name
                ),
            });
            let active = ACTIVE_LICENCE_STATUSES.contains(&l.status.trim());
            checks.push(CheckResult {
                check: "licence_status",
                input: l.status.clone(),
                outcome: if active { Outcome::Pass } else { Outcome::Fail },
                detail: if active {
                    "registration is active".into()
                } else {
                    "registration is not 存续 or 在业".into()
                },
            });
            let valid = l.valid_until.is_none_or(|d| d >= today);
            checks.push(CheckResult {
                check: "licence_validity",
                input: l
                    .valid_until
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "长期".into()),
                outcome: if valid { Outcome::Pass } else { Outcome::Fail },
                detail: if valid {
                    "licence is within its validity".into()
                } else {
                    format!("licence expired before {today}")
                },
            });
            let complete = !l.registered_address.trim().is_empty()
                && !l.legal_representative.trim().is_empty();
            checks.push(CheckResult {
                check: "licence_fields",
                input: String::new(),
                outcome: if complete {
                    Outcome::Pass
                } else {
                    Outcome::Review
                },
                detail: if complete {
                    "address and legal representative present".into()
                } else {
                    "address or legal representative missing".into()
                },
            });
        }
    }
    checks.extend(crate::screening::screen_uscc(tx.db(), uscc).await?);
    let status = if checks.iter().any(|c| c.outcome == Outcome::Fail) {
        if checks
            .iter()
            .any(|c| c.check == "dishonest_debtor_list" && c.outcome == Outcome::Fail)
        {
            PartyStatus::Blocked
        } else {
            PartyStatus::ManualReview
        }
    } else if checks.iter().any(|c| c.outcome == Outcome::Review) {
        PartyStatus::ManualReview
    } else {
        PartyStatus::Active
    };
    Ok(Onboarding { checks, status })
}

/// Records each check as evidence of the merchant's onboarding.
pub fn record(tx: &mut Tx<'_>, merchant: PartyId, onboarding: &Onboarding) {
    for c in &onboarding.checks {
        tx.emit(
            NewEvent::new(
                "merchant.checked",
                json!({ "party_id": merchant, "check": c.check, "input": c.input, "outcome": c.outcome, "detail": c.detail }),
            )
            .merchant(merchant),
        );
    }
}
