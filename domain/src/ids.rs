//! Identifiers. Inside Lvyue every row has an `i64` key; outside it is an opaque string with a
//! type prefix (`ord_42`), so an order id can never be mistaken for a merchant id. The same
//! strings appear in notarized events, so their format is part of the evidence and must not
//! change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            pub const WHAT: &'static str = $what;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                s.strip_prefix(concat!($prefix, "_"))
                    .filter(|n| !n.is_empty() && n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'))
                    .and_then(|n| n.parse::<i64>().ok())
                    .map($name)
                    .ok_or_else(|| DomainError::not_found($what, truncate_id(s)))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// An id that does not parse is reported as not found, with at most 40 characters of it.
fn truncate_id(s: &str) -> String {
    s.chars().take(40).collect()
}

id_type!(/// A party: bank, merchant, payer, regulator or court.
    PartyId, "pty", "party");
id_type!(/// A ledger account.
    AccountId, "acc", "account");
id_type!(/// A journal entry.
    EntryId, "ent", "journal entry");
id_type!(/// A hold on an account.
    HoldId, "hld", "hold");
id_type!(/// A supervision scheme.
    SchemeId, "sch", "scheme");
id_type!(/// An escrow order.
    OrderId, "ord", "order");
id_type!(/// A milestone of an order's release schedule.
    MilestoneId, "mst", "milestone");
id_type!(/// A payment collected through a channel.
    PaymentId, "pmt", "payment");
id_type!(/// A payout or a batch of payouts.
    PayoutId, "pot", "payout");
id_type!(/// A housing voucher.
    VoucherId, "vch", "voucher");
id_type!(/// An alert.
    AlertId, "alr", "alert");
id_type!(/// An imported channel statement.
    StatementId, "stm", "statement");
id_type!(/// A canteen's purchase payment to a supplier.
    PurchaseId, "pur", "purchase");
id_type!(/// One use of a prepaid card.
    CardUsageId, "use", "card usage");
id_type!(/// A patient's payment to medical institutions.
    ReceiptId, "rcp", "receipt");
id_type!(/// The bank's advance of an insurer's share to a medical institution.
    AdvanceId, "adv", "advance");
id_type!(/// An enterprise's transfer into its payroll account.
    FundingId, "fnd", "funding");
id_type!(/// A report someone ran (its id is printed in the CSV watermark).
    ReportRunId, "rpt", "report");
id_type!(/// A webhook endpoint that receives alerts.
    WebhookEndpointId, "whk", "webhook endpoint");
id_type!(/// One alert's delivery to one webhook endpoint.
    DeliveryId, "dlv", "webhook delivery");
id_type!(/// A text message or voice call sent about an incident.
    NotificationId, "ntf", "notification");

/// An event's place in the log: its leaf index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Seq(pub u64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{}", self.0)
    }
}

impl FromStr for Seq {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Seq, DomainError> {
        s.strip_prefix("evt_")
            .filter(|n| !n.is_empty() && n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()))
            .filter(|n| *n == "0" || !n.starts_with('0'))
            .and_then(|n| n.parse().ok())
            .map(Seq)
            .ok_or_else(|| DomainError::not_found("event", truncate_id(s)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_with_their_prefix() {
        assert_eq!(OrderId(42).to_string(), "ord_42");
        assert_eq!("ord_42".parse::<OrderId>().unwrap(), OrderId(42));
        assert_eq!("evt_0".parse::<Seq>().unwrap(), Seq(0));
    }

    #[test]
    fn an_id_of_another_type_or_garbage_is_not_found() {
        for bad in [
            "pty_42",
            "ord_",
            "ord_-1",
            "ord_042",
            "ord_1x",
            "ord_99999999999999999999",
            "42",
            "",
        ] {
            let err = bad.parse::<OrderId>().unwrap_err();
            assert!(matches!(err, DomainError::NotFound { .. }), "{bad}");
        }
    }
}
