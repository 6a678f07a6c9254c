//! Order states as the database holds them (text), read back as the domain's enums: a value that is
//! not a state is a decode error, never a guess.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

use crate::domain::{DepositState, WithdrawalState};

macro_rules! text_state {
    ($state:ty, $what:literal) => {
        impl Type<Postgres> for $state {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Postgres> for $state {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Postgres>>::decode(value)?;
                <$state>::parse(text)
                    .ok_or_else(|| format!("{text:?} is not a {} state", $what).into())
            }
        }

        impl Encode<'_, Postgres> for $state {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }
    };
}

text_state!(DepositState, "deposit");
text_state!(WithdrawalState, "withdrawal");
