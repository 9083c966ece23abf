//! `string_enum!`: enums stored and shown as stable upper-case strings (`"ESCROW"`), with
//! `as_str`, `Display`, `FromStr` (unknown values are a `VALIDATION` error) and serde.

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $s)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::error::DomainError;
            fn from_str(s: &str) -> Result<$name, crate::error::DomainError> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err(crate::error::DomainError::invalid(stringify!($name), format!("unknown value {:?}", s.chars().take(40).collect::<String>()))),
                }
            }
        }
    };
}
pub(crate) use string_enum;
