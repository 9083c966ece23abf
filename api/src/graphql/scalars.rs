//! The `Decimal` scalar: an amount of CNY as a string with two decimal places (`"1280.00"`).
//!
//! Input is parsed by [`Money`]'s parser, so the API accepts exactly what the domain accepts:
//! no exponents (`1e10`), no more than two places (`1.001`), no signs (`-0.00`), no spaces
//! (`" 1.00"`), no `NaN`, and only strings (a JSON number cannot carry the scale and may
//! already have been rounded by the client). Zero is accepted here; commands that need a
//! positive amount say so themselves. Refusals carry `extensions.code = VALIDATION`.
//!
//! Never expose `rust_decimal::Decimal` in the schema: async-graphql's `decimal` feature names
//! that scalar `Decimal` too, and the two would clash.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use lvyue_domain::Money;
use lvyue_domain::error::ErrorCode;

/// An amount of money, as the `Decimal` scalar. Inputs are never negative; outputs may be (the
/// bank's view of outside-world and advance accounts, which go below zero by design).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(pub i64);

impl Decimal {
    /// A signed amount in fen, for output.
    pub fn from_fen(fen: i64) -> Decimal {
        Decimal(fen)
    }

    /// The amount as domain money. Inputs are parsed by `Money`, so never negative; a
    /// negative amount here is a bug, reported as one rather than read as zero.
    ///
    /// # Errors
    /// `INTERNAL` for an amount `Money` cannot hold.
    pub fn money(self) -> Result<Money, lvyue_domain::DomainError> {
        Money::from_fen(self.0)
            .map_err(|e| lvyue_domain::DomainError::Invariant(format!("amount {}: {e}", self.0)))
    }
}

/// Amount in CNY with exactly two decimal places, as a string: `"1280.00"`.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let refuse = |msg: String| {
            InputValueError::custom(msg).with_extension("code", ErrorCode::Validation.as_str())
        };
        match &value {
            Value::String(s) => s
                .parse::<Money>()
                .map(|m| Decimal(m.fen()))
                .map_err(|e| refuse(e.to_string())),
            _ => Err(refuse(
                "an amount must be a string such as \"1280.00\"".into(),
            )),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        Value::String(format!("{sign}{}.{:02}", abs / 100, abs % 100))
    }
}

impl From<Money> for Decimal {
    fn from(m: Money) -> Decimal {
        Decimal(m.fen())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Q;

    #[Object]
    impl Q {
        async fn echo(&self, amount: Decimal) -> Decimal {
            amount
        }
    }

    async fn echo(input: serde_json::Value) -> serde_json::Value {
        // With the request policy, as served: it gives async-graphql's own errors their code.
        let limits = crate::graphql::limits::QueryLimits::from(&crate::config::Limits::default());
        let schema = Schema::build(Q, EmptyMutation, EmptySubscription)
            .extension(crate::graphql::limits::RequestPolicy::new(limits, None))
            .finish();
        let req = async_graphql::Request::new("query($a: Decimal!) { echo(amount: $a) }")
            .variables(async_graphql::Variables::from_json(
                serde_json::json!({ "a": input }),
            ));
        serde_json::to_value(schema.execute(req).await).unwrap()
    }

    #[tokio::test]
    async fn amounts_round_trip_as_two_place_strings() {
        assert_eq!(echo("1280".into()).await["data"]["echo"], "1280.00");
        assert_eq!(echo("1280.5".into()).await["data"]["echo"], "1280.50");
        assert_eq!(echo("0.00".into()).await["data"]["echo"], "0.00");
    }

    #[test]
    fn signed_outputs_keep_two_places_and_their_sign() {
        assert_eq!(
            Decimal::from_fen(-1234).to_value(),
            Value::String("-12.34".into())
        );
        assert_eq!(
            Decimal::from_fen(-5).to_value(),
            Value::String("-0.05".into())
        );
        assert_eq!(
            Decimal::from_fen(0).to_value(),
            Value::String("0.00".into())
        );
        assert_eq!(
            Decimal::from_fen(128_000).to_value(),
            Value::String("1280.00".into())
        );
    }

    #[tokio::test]
    async fn malformed_amounts_are_validation_errors() {
        for bad in [
            serde_json::json!("1e10"),
            serde_json::json!("1.001"),
            serde_json::json!("-0.00"),
            serde_json::json!("NaN"),
            serde_json::json!(" 1.00"),
            serde_json::json!("1.00 "),
            serde_json::json!("01.00"),
            serde_json::json!("+1.00"),
            serde_json::json!("99999999999999999999.00"),
            serde_json::json!(""),
            serde_json::json!(12.5),
        ] {
            let resp = echo(bad.clone()).await;
            assert_eq!(
                resp["data"],
                serde_json::Value::Null,
                "{bad} was accepted: {resp}"
            );
            assert_eq!(
                resp["errors"][0]["extensions"]["code"], "VALIDATION",
                "{bad}: {resp}"
            );
        }
    }
}
