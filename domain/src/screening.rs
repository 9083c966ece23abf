//! Blocking lists (docs/domain.md, "Checks on merchants"): the dishonest-debtor list
//! (失信被执行人) and the abnormal-operation list, and screening a merchant's USCC against them
//! at onboarding, after every import and before every release. Importing a list, and what a
//! hit does, is [`crate::list_import`]; this module only reads the lists, so onboarding, risk
//! and the release gate can screen without depending on the import.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use lvyue_entity::list_entry;

use crate::enums::string_enum;
use crate::error::DomainResult;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Pass,
    /// A person must look at it: the merchant goes to manual review.
    Review,
    /// The merchant may not be accepted as active.
    Fail,
}

/// One onboarding check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: &'static str,
    pub input: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// Most lines one list import may carry.
pub const MAX_LIST_ROWS: usize = 100_000;

string_enum!(
    /// Which list.
    ListKind { DishonestDebtor = "DISHONEST_DEBTOR", AbnormalOperation = "ABNORMAL_OPERATION" }
);

impl ListKind {
    pub(crate) fn check_name(self) -> &'static str {
        match self {
            ListKind::DishonestDebtor => "dishonest_debtor_list",
            ListKind::AbnormalOperation => "abnormal_operation_list",
        }
    }
}

/// Screens a USCC against both lists.
///
/// # Errors
/// Database errors.
pub async fn screen_uscc<C: ConnectionTrait>(db: &C, uscc: &str) -> DomainResult<Vec<CheckResult>> {
    let hits = list_entry::Entity::find()
        .filter(list_entry::Column::Uscc.eq(uscc))
        .filter(list_entry::Column::Active.eq(true))
        .all(db)
        .await?;
    Ok([ListKind::DishonestDebtor, ListKind::AbnormalOperation]
        .into_iter()
        .map(|kind| {
            let hit = hits.iter().find(|h| h.kind == kind.as_str());
            CheckResult {
                check: kind.check_name(),
                input: uscc.to_owned(),
                outcome: match (hit, kind) {
                    (None, _) => Outcome::Pass,
                    (Some(_), ListKind::DishonestDebtor) => Outcome::Fail,
                    (Some(_), ListKind::AbnormalOperation) => Outcome::Review,
                },
                detail: match hit {
                    None => "not listed".into(),
                    Some(h) => format!("listed on {}: {}", h.listed_on, h.reason),
                },
            }
        })
        .collect())
}

/// Whether a merchant is on the dishonest-debtor list right now (checked before every release).
///
/// # Errors
/// Database errors.
pub async fn is_dishonest<C: ConnectionTrait>(db: &C, uscc: &str) -> DomainResult<bool> {
    Ok(list_entry::Entity::find()
        .filter(list_entry::Column::Uscc.eq(uscc))
        .filter(list_entry::Column::Kind.eq(ListKind::DishonestDebtor.as_str()))
        .filter(list_entry::Column::Active.eq(true))
        .one(db)
        .await?
        .is_some())
}
