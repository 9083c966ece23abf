//! What the search index holds for an event of the log: the order it names (as the order is
//! now), the merchant it names, and the event itself as a short summary.
//!
//! Personal data: a payer's name is indexed only as [`mask_name`] gives it (`段**`). An
//! event's `data` is never indexed as such: its summary is a label for its type and the
//! amounts it carries, nothing else (no salts, commitments, names, ID or phone numbers, and no
//! free-text reasons, which may quote a person).
//!
//! Scope fields mirror the domain's scoping (`lvyue_domain::queries`), so that search never
//! shows a principal more than `order`, `party` and `event` would: an order carries its
//! merchant, payer, region and industry; a merchant its own id, region and industry; an event
//! exactly the merchant and payer ids of its row, and the region and industry of its order (or,
//! with no order, of its merchant).

use std::collections::HashMap;

use serde_json::Value;

use lvyue_domain::clock::Timestamp;
use lvyue_domain::event::EventRecord;
use lvyue_domain::ids::PartyId;
use lvyue_domain::order::OrderRecord;
use lvyue_domain::party::{PartyKind, PartyRecord};
use lvyue_domain::pii::mask_name;
use lvyue_search::{EventDoc, MerchantDoc, OrderDoc};

/// Most amounts one event summary lists.
pub const MAX_SUMMARY_AMOUNTS: usize = 4;

/// Amount fields an event summary may show, with their labels. Only these keys are read from
/// an event's data, and only when their value is a money string (`"1280.00"`).
const AMOUNT_FIELDS: [(&str, &str); 5] = [
    ("amount", "金额"),
    ("total", "总额"),
    ("deduction", "扣款"),
    ("refunded_total", "退款合计"),
    ("refundable", "可退"),
];

/// Chinese labels for event types, so that 退款 or 冻结 finds the events a person means.
const EVENT_LABELS: [(&str, &str); 43] = [
    ("order.opened", "订单开立"),
    ("order.settled", "订单资金入监管"),
    ("order.closed", "订单完结"),
    ("order.refunded", "订单退款"),
    ("order.expired", "订单到期"),
    ("order.split", "订单分账"),
    ("order.escalation_resolved", "订单争议处理"),
    ("payment.collected", "收款"),
    ("payment.settle_date_replanned", "结算日调整"),
    ("milestone.confirmed", "节点确认"),
    ("milestone.released", "节点放款"),
    ("release.blocked", "放款受阻"),
    ("refund.requested", "退款申请"),
    ("refund.deadline_replanned", "退款期限调整"),
    ("refund.deduction_approved", "退款扣款核准"),
    ("refund.deduction_dropped", "退款扣款取消"),
    ("merchant.registered", "商户登记"),
    ("merchant.checked", "商户核验"),
    ("merchant.enrolled", "商户加入监管方案"),
    ("merchant.status_changed", "商户状态变更"),
    ("merchant.profile_changed", "商户信息变更"),
    ("merchant.closing_down", "商户停业清退"),
    ("payer.registered", "付款人登记"),
    ("regulator.registered", "监管机构登记"),
    ("court.registered", "法院登记"),
    ("court.freeze", "司法冻结"),
    ("hold.placed", "资金冻结"),
    ("hold.released", "资金解冻"),
    ("payout.completed", "出款"),
    ("payout.batch_completed", "批量出款"),
    ("settlement.completed", "结算"),
    ("calendar.loaded", "节假日安排载入"),
    ("scheme.created", "监管方案创建"),
    ("scheme.policy_changed", "监管规则变更"),
    ("account.opened", "开户"),
    ("ledger.entry_posted", "记账"),
    ("alert.raised", "预警"),
    ("alert.handled", "预警处理"),
    ("complaint.recorded", "投诉登记"),
    ("risk.scored", "风险评分"),
    ("statement.reconciled", "对账"),
    ("access.read", "查阅记录"),
    ("access.order_read", "订单查阅记录"),
];

/// Event types of the access log (`access.read`, `access.order_read`).
const ACCESS_PREFIX: &str = "access.";

/// Whether an event of `kind` only records a read (the access log): it changes no order or
/// merchant it names, so their documents need no rewrite for it, and its own document takes
/// nothing from them.
pub fn records_a_read(kind: &str) -> bool {
    kind.starts_with(ACCESS_PREFIX)
}

/// Unix seconds (what the index's time field holds) of a timestamp in microseconds.
pub fn unix_seconds(t: Timestamp) -> i64 {
    t.0.div_euclid(1_000_000)
}

/// The order as search sees it; its merchant and payer are looked up in `parties` (a missing
/// one leaves its name empty).
pub fn order_doc(o: &OrderRecord, parties: &HashMap<PartyId, PartyRecord>) -> OrderDoc {
    OrderDoc {
        id: o.id.to_string(),
        order_no: o.order_no.clone(),
        merchant_id: o.merchant.to_string(),
        merchant_name: parties
            .get(&o.merchant)
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        payer_id: o.payer.to_string(),
        // docs/domain.md: personal data is indexed only masked.
        payer_masked_name: parties
            .get(&o.payer)
            .map(|p| mask_name(&p.name))
            .unwrap_or_default(),
        scheme_id: o.scheme.to_string(),
        region: o.region.as_str().to_owned(),
        industry: o.industry.as_str().to_owned(),
        status: o.status.as_str().to_owned(),
        remark: o.description.clone(),
        amount_fen: o.total.fen(),
        opened_at: unix_seconds(o.opened_at),
    }
}

/// The merchant as search sees it, or `None` for a party that is not a merchant.
pub fn merchant_doc(p: &PartyRecord) -> Option<MerchantDoc> {
    if p.kind != PartyKind::Merchant {
        return None;
    }
    let id = p.id.to_string();
    Some(MerchantDoc {
        merchant_id: id.clone(),
        id,
        name: p.name.clone(),
        uscc: p.uscc.clone().unwrap_or_default(),
        region: p
            .region
            .as_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        industry: p
            .industry
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default(),
        status: p.status.as_str().to_owned(),
        // The bank's free-text description of the business (the licence, which names a
        // legal representative, is left out).
        description: p
            .attributes
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The event as search sees it. `order` and `merchant` are the rows its ids name, when loaded.
pub fn event_doc(
    e: &EventRecord,
    order: Option<&OrderRecord>,
    merchant: Option<&PartyRecord>,
) -> EventDoc {
    let merchant = merchant.filter(|m| m.kind == PartyKind::Merchant);
    let (region, industry) = match (order, merchant) {
        (Some(o), _) => (
            Some(o.region.as_str().to_owned()),
            Some(o.industry.as_str().to_owned()),
        ),
        (None, Some(m)) => (
            m.region.as_ref().map(|r| r.as_str().to_owned()),
            m.industry.map(|i| i.as_str().to_owned()),
        ),
        (None, None) => (None, None),
    };
    // The access log is the bank's: a regulator's scope (region and industry) never reaches
    // who read what — least of all a court's evidence requests and case numbers.
    let (region, industry) = if records_a_read(&e.kind) {
        (None, None)
    } else {
        (region, industry)
    };
    EventDoc {
        id: e.seq.to_string(),
        seq: e.seq.0,
        event_type: e.kind.clone(),
        order_id: e.order_id.map(|o| o.to_string()),
        merchant_id: e.merchant_id.map(|m| m.to_string()),
        payer_id: e.payer_id.map(|p| p.to_string()),
        region,
        industry,
        summary: summary(&e.kind, &e.data),
        at: unix_seconds(e.at),
    }
}

/// `收款 payment.collected · 金额 500.00`: the type's label and the amounts in `data`.
pub fn summary(kind: &str, data: &Value) -> String {
    let mut out = match EVENT_LABELS.iter().find(|(k, _)| *k == kind) {
        Some((_, label)) => format!("{label} {kind}"),
        None => kind.to_owned(),
    };
    let amounts = AMOUNT_FIELDS
        .iter()
        .filter_map(|(key, label)| {
            data.get(key)
                .and_then(Value::as_str)
                .filter(|v| is_money_text(v))
                .map(|v| format!("{label} {v}"))
        })
        .take(MAX_SUMMARY_AMOUNTS);
    for a in amounts {
        out.push_str(" · ");
        out.push_str(&a);
    }
    out
}

/// `1280.00`, `0.05`, `-3.10`: how `Money` is written in event data.
fn is_money_text(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let Some((yuan, fen)) = digits.split_once('.') else {
        return false;
    };
    !yuan.is_empty()
        && yuan.len() <= 16
        && fen.len() == 2
        && yuan.bytes().chain(fen.bytes()).all(|b| b.is_ascii_digit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_summary_names_the_type_and_its_amounts_only() {
        let data = json!({
            "amount": "500.00",
            "total": "1280.00",
            "name": "段誉",
            "reason": "段誉 asked for it",
            "commitments": {"name": "ab12"},
            "salt": "ff00",
        });
        let s = summary("payment.collected", &data);
        assert_eq!(s, "收款 payment.collected · 金额 500.00 · 总额 1280.00");
        assert!(!s.contains("段誉") && !s.contains("ab12") && !s.contains("ff00"));
    }

    #[test]
    fn an_unknown_type_is_named_as_it_is_and_odd_amounts_are_left_out() {
        let data = json!({"amount": "11010519491231002X", "total": 12, "deduction": "3.10"});
        assert_eq!(summary("job.fired", &data), "job.fired · 扣款 3.10");
    }

    #[test]
    fn money_text_is_recognised() {
        for ok in ["0.00", "1280.00", "-3.10"] {
            assert!(is_money_text(ok), "{ok}");
        }
        for bad in [
            "",
            "1",
            "1.0",
            "1.000",
            ".10",
            "a.bc",
            "13812345678",
            "1.2.3",
        ] {
            assert!(!is_money_text(bad), "{bad}");
        }
    }

    #[test]
    fn labels_are_unique() {
        let mut kinds: Vec<&str> = EVENT_LABELS.iter().map(|(k, _)| *k).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), EVENT_LABELS.len());
    }

    #[test]
    fn access_records_are_outside_every_regulators_scope() {
        let merchant = PartyRecord {
            id: PartyId(3),
            kind: PartyKind::Merchant,
            name: "南京市某某驾校".into(),
            region: Some("320102".parse().unwrap()),
            industry: Some(lvyue_domain::principal::Industry::DrivingSchool),
            uscc: None,
            status: lvyue_domain::party::PartyStatus::Active,
            attributes: json!({}),
            created_at: Timestamp(0),
            id_number_enc: None,
            phone_enc: None,
        };
        let event = |kind: &str| EventRecord {
            seq: lvyue_domain::ids::Seq(7),
            kind: kind.into(),
            at: Timestamp(0),
            order_id: None,
            merchant_id: Some(merchant.id),
            payer_id: None,
            scheme_id: None,
            data: json!({"role": "COURT", "case_no": "(2026)苏0102执1号"}),
            canonical: String::new(),
            leaf_hash: String::new(),
            salt: None,
            opening: None,
        };
        let paid = event_doc(&event("payment.collected"), None, Some(&merchant));
        assert_eq!(paid.region.as_deref(), Some("320102"));
        for kind in ["access.read", "access.order_read"] {
            let doc = event_doc(&event(kind), None, Some(&merchant));
            assert_eq!((doc.region, doc.industry), (None, None), "{kind}");
        }
    }

    #[test]
    fn unix_seconds_round_down() {
        assert_eq!(unix_seconds(Timestamp(1_500_000)), 1);
        assert_eq!(unix_seconds(Timestamp(-1)), -1);
    }
}
