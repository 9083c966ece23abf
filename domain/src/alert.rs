//! Alerts for regulators and the bank: what happened, about whom, and who handled it
//! (open → acknowledged → resolved). Raised inside the transaction of the change that caused
//! them, so an alert exists exactly when its cause was committed.

use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use lvyue_entity::alert;

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AlertId, OrderId, PartyId, SchemeId};
use crate::page::{Page, Paged, newest_first};
use crate::party::{PartyRecord, PartyStatus};
use crate::principal::{Industry, Principal, Role};
use crate::queries::{jurisdiction_condition, nothing};

string_enum!(
    /// What an alert is about (docs/domain.md, "Checks on merchants").
    AlertKind {
        CustodyShortfall = "CUSTODY_SHORTFALL",
        WarningLineCrossed = "WARNING_LINE_CROSSED",
        LargeRelease = "LARGE_RELEASE",
        FrequentReleases = "FREQUENT_RELEASES",
        ReleaseAheadOfDelivery = "RELEASE_AHEAD_OF_DELIVERY",
        MerchantStatusChanged = "MERCHANT_STATUS_CHANGED",
        DeadlineNear = "DEADLINE_NEAR",
        ReconciliationBreak = "RECONCILIATION_BREAK",
        ClosingDown = "CLOSING_DOWN",
        ListHit = "LIST_HIT",
        OrderEscalated = "ORDER_ESCALATED",
        JobFailed = "JOB_FAILED",
        RefundOverdue = "REFUND_OVERDUE",
        /// The loaded holiday calendar ends within 60 days (for the bank).
        CalendarEnding = "CALENDAR_ENDING",
        /// A node stopped signing checkpoints: its database disagrees with one it published.
        SigningHalted = "SIGNING_HALTED",
        /// A witness refused this log's checkpoint as inconsistent with one it cosigned.
        WitnessRefused = "WITNESS_REFUSED",
        /// A court's freeze lapses soon unless renewed (for the bank, to ask the court).
        FreezeLapsing = "FREEZE_LAPSING",
    }
);

string_enum!(
    /// How urgent.
    Severity { Info = "INFO", Warning = "WARNING", Critical = "CRITICAL" }
);

string_enum!(
    /// Handling state.
    AlertStatus { Open = "OPEN", Acknowledged = "ACKNOWLEDGED", Resolved = "RESOLVED" }
);

/// An alert to raise.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub kind: AlertKind,
    pub severity: Severity,
    pub merchant: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub order: Option<OrderId>,
    pub region: Option<String>,
    pub industry: Option<Industry>,
    pub message: String,
    pub details: Value,
    /// An alert with the same key that is still open is not raised again.
    pub dedupe_key: Option<String>,
}

impl NewAlert {
    pub fn new(kind: AlertKind, severity: Severity, message: impl Into<String>) -> NewAlert {
        NewAlert {
            kind,
            severity,
            merchant: None,
            scheme: None,
            order: None,
            region: None,
            industry: None,
            message: message.into(),
            details: json!({}),
            dedupe_key: None,
        }
    }

    /// Sets the merchant and takes its region and industry (the regulator scope of the alert).
    pub fn about_merchant(mut self, m: &PartyRecord) -> NewAlert {
        self.merchant = Some(m.id);
        self.region = m.region.as_ref().map(|r| r.as_str().to_owned());
        self.industry = m.industry;
        self
    }

    /// Sets the order and its scheme, and puts the alert in the order's scope (region and
    /// industry), which is where the regulators who see the order look.
    pub fn about_order(mut self, o: &crate::order_record::OrderRecord) -> NewAlert {
        self.order = Some(o.id);
        self.scheme = Some(o.scheme);
        self.region = Some(o.region.as_str().to_owned());
        self.industry = Some(o.industry);
        self
    }

    pub fn details(mut self, details: Value) -> NewAlert {
        self.details = details;
        self
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> NewAlert {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn merchant_status_changed(m: &PartyRecord, to: PartyStatus, reason: &str) -> NewAlert {
        NewAlert::new(
            AlertKind::MerchantStatusChanged,
            if matches!(to, PartyStatus::Blocked | PartyStatus::Suspended) {
                Severity::Critical
            } else {
                Severity::Info
            },
            format!(
                "{} is now {}: {}",
                m.name,
                to,
                reason.chars().take(200).collect::<String>()
            ),
        )
        .about_merchant(m)
        .details(json!({ "from": m.status, "to": to }))
    }
}

/// An alert as readers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub id: AlertId,
    pub kind: AlertKind,
    pub severity: Severity,
    pub status: AlertStatus,
    pub merchant: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub order: Option<OrderId>,
    pub region: Option<String>,
    pub industry: Option<Industry>,
    pub message: String,
    pub details: Value,
    pub created_at: Timestamp,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<Timestamp>,
}

impl TryFrom<alert::Model> for AlertRecord {
    type Error = DomainError;
    fn try_from(m: alert::Model) -> Result<AlertRecord, DomainError> {
        Ok(AlertRecord {
            id: AlertId(m.id),
            kind: m.kind.parse()?,
            severity: m.severity.parse()?,
            status: m.status.parse()?,
            merchant: m.merchant_id.map(PartyId),
            scheme: m.scheme_id.map(SchemeId),
            order: m.order_id.map(OrderId),
            region: m.region,
            industry: m.industry.map(|i| i.parse()).transpose()?,
            message: m.message,
            details: serde_json::from_str(&m.details).unwrap_or(Value::Null),
            created_at: Timestamp(m.created_at_us),
            acknowledged_by: m.acknowledged_by,
            acknowledged_at: m.acknowledged_at_us.map(Timestamp),
            resolved_by: m.resolved_by,
            resolved_at: m.resolved_at_us.map(Timestamp),
        })
    }
}

/// Raises an alert in the current transaction (unless an open one has the same dedupe key).
///
/// # Errors
/// Database errors.
pub async fn raise(tx: &mut Tx<'_>, a: NewAlert) -> DomainResult<Option<AlertRecord>> {
    if let Some(key) = &a.dedupe_key {
        let open = alert::Entity::find()
            .filter(alert::Column::DedupeKey.eq(key.as_str()))
            .one(tx.db())
            .await?;
        if let Some(existing) = open {
            if existing.status != AlertStatus::Resolved.as_str() {
                return Ok(None);
            }
            // A resolved alert frees its key for the next occurrence.
            alert::ActiveModel {
                id: Set(existing.id),
                dedupe_key: Set(None),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
        }
    }
    let model = alert::ActiveModel {
        kind: Set(a.kind.as_str().to_owned()),
        severity: Set(a.severity.as_str().to_owned()),
        status: Set(AlertStatus::Open.as_str().to_owned()),
        merchant_id: Set(a.merchant.map(|m| m.0)),
        scheme_id: Set(a.scheme.map(|s| s.0)),
        order_id: Set(a.order.map(|o| o.0)),
        region: Set(a.region.clone()),
        industry: Set(a.industry.map(|i| i.as_str().to_owned())),
        message: Set(a.message.clone()),
        details: Set(a.details.to_string()),
        dedupe_key: Set(a.dedupe_key.clone()),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    let record = AlertRecord::try_from(model)?;
    // Queued for the bank's webhook endpoints in this same transaction.
    crate::outbox::enqueue(tx, record.id, alert_payload(&record)).await?;
    let mut e = NewEvent::new(
        "alert.raised",
        json!({ "alert_id": record.id, "kind": record.kind, "severity": record.severity, "message": record.message, "details": record.details }),
    );
    if let Some(m) = record.merchant {
        e = e.merchant(m);
    }
    if let Some(o) = record.order {
        e = e.order(o);
    }
    if let Some(s) = record.scheme {
        e = e.scheme(s);
    }
    tx.emit(e);
    tx.escrow.notify_alert(record.clone());
    Ok(Some(record))
}

/// # Errors
/// `NOT_FOUND`.
pub async fn get_alert<C: ConnectionTrait>(db: &C, id: AlertId) -> DomainResult<AlertRecord> {
    alert::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("alert", id))?
        .try_into()
}

/// Moves an alert along: open → acknowledged → resolved (or open → resolved).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandleAlert {
    pub alert: AlertId,
    pub to: AlertStatus,
    pub note: String,
}

impl Command for HandleAlert {
    type Output = AlertRecord;
    const NAME: &'static str = "handleAlert";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<AlertRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Regulator])?;
        let a = alert_visible(tx.db(), tx.principal, self.alert).await?;
        let note = crate::text::optional("note", &self.note, 500)?;
        let allowed = matches!(
            (a.status, self.to),
            (AlertStatus::Open, AlertStatus::Acknowledged)
                | (AlertStatus::Open, AlertStatus::Resolved)
                | (AlertStatus::Acknowledged, AlertStatus::Resolved)
        );
        if !allowed {
            return Err(DomainError::invalid_state(
                format!("alert {}", a.id),
                a.status.as_str(),
                "move it there",
            ));
        }
        let who = Set(Some(tx.principal.subject.clone()));
        let when = Set(Some(tx.now.0));
        let mut m = alert::ActiveModel {
            id: Set(a.id.0),
            status: Set(self.to.as_str().to_owned()),
            ..Default::default()
        };
        if self.to == AlertStatus::Acknowledged {
            m.acknowledged_by = who;
            m.acknowledged_at_us = when;
        } else {
            m.resolved_by = who;
            m.resolved_at_us = when;
        }
        m.update(tx.db()).await?;
        let mut e = NewEvent::new(
            "alert.handled",
            json!({ "alert_id": a.id, "from": a.status, "to": self.to, "by": tx.principal.subject, "note": note }),
        );
        if let Some(m) = a.merchant {
            e = e.merchant(m);
        }
        tx.emit(e);
        get_alert(tx.db(), a.id).await
    }
}

/// The JSON body delivered for an alert.
pub fn alert_payload(a: &AlertRecord) -> String {
    json!({
        "type": "alert.raised",
        "alert": {
            "id": a.id,
            "kind": a.kind,
            "severity": a.severity,
            "status": a.status,
            "merchant_id": a.merchant,
            "scheme_id": a.scheme,
            "order_id": a.order,
            "region": a.region,
            "industry": a.industry,
            "message": a.message,
            "details": a.details,
            "created_at": a.created_at.rfc3339(),
        }
    })
    .to_string()
}

/// What alerts a principal may see.
pub fn alert_scope(p: &Principal) -> Condition {
    match p.role {
        Role::Bank => Condition::all(),
        Role::Regulator => jurisdiction_condition(
            &p.jurisdiction,
            alert::Column::Region,
            alert::Column::Industry,
        ),
        Role::Merchant => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(alert::Column::MerchantId.eq(id.0))
        }),
        _ => nothing(),
    }
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn alert_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: AlertId,
) -> DomainResult<AlertRecord> {
    alert::Entity::find_by_id(id.0)
        .filter(alert_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("alert", id))?
        .try_into()
}

/// Alerts in scope, newest first.
///
/// # Errors
/// Database errors.
pub async fn alerts<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    status: Option<AlertStatus>,
    page: Page,
) -> DomainResult<Paged<AlertRecord>> {
    let mut q = alert::Entity::find().filter(alert_scope(p));
    if let Some(s) = status {
        q = q.filter(alert::Column::Status.eq(s.as_str()));
    }
    newest_first(db, q, alert::Column::Id, page).await
}
