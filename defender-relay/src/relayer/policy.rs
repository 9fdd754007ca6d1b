//! The relayer's policies: paused, receiver whitelist, gas price cap, and the funds check
//! (with the balance reading it reuses).

use super::{RelayerConfig, Shared};
use crate::hex::u256_of;
use alloy_primitives::{Address, U256};
use defender_core::relayer::PolicyViolation;
use defender_core::wire::PricingStyle;
use defender_core::RelayerError;
use serde_json::json;
use std::time::Instant;

/// Whether the relayer may send to `to` (`None`: a deployment) at all.
pub(super) fn check_receiver(
    config: &RelayerConfig,
    to: Option<Address>,
) -> Result<(), PolicyViolation> {
    if config.paused {
        return Err(PolicyViolation::Paused);
    }
    match (&config.whitelist, to) {
        (None, _) => Ok(()),
        (Some(w), Some(to)) if w.contains(&to) => Ok(()),
        (Some(_), Some(to)) => Err(PolicyViolation::ReceiverNotWhitelisted { to }),
        (Some(_), None) => Err(PolicyViolation::DeploymentNotWhitelisted),
    }
}

/// Whether caller-given fees stay under the cap (fees priced by speed are capped instead).
pub(super) fn check_price_cap(
    pricing: PricingStyle,
    cap: Option<u128>,
) -> Result<(), PolicyViolation> {
    let Some(cap) = cap else { return Ok(()) };
    match pricing {
        PricingStyle::Speed(_) => Ok(()),
        PricingStyle::GasPrice(gas_price) if gas_price > cap => {
            Err(PolicyViolation::GasPriceAboveCap { gas_price, cap })
        }
        PricingStyle::Eip1559 {
            max_fee_per_gas, ..
        } if max_fee_per_gas > cap => Err(PolicyViolation::MaxFeePerGasAboveCap {
            max_fee_per_gas,
            cap,
        }),
        PricingStyle::GasPrice(_) | PricingStyle::Eip1559 { .. } => Ok(()),
    }
}

/// Whether the balance covers the worst-case cost of what is in flight plus `required`.
pub(super) fn check_funds(
    balance: U256,
    pending_cost: U256,
    required: U256,
) -> Result<(), RelayerError> {
    if pending_cost.saturating_add(required) > balance {
        return Err(RelayerError::InsufficientFunds {
            balance,
            pending_cost,
            required,
        });
    }
    Ok(())
}

impl Shared {
    /// The relayer's balance, reused for the balance cache's TTL.
    pub(super) async fn balance(&self) -> Result<U256, RelayerError> {
        if let Some((at, b)) = self.balance_cache.lock().ok().and_then(|c| *c) {
            if at.elapsed() < self.config.balance_cache_ttl {
                return Ok(b);
            }
        }
        let v = self
            .rpc("eth_getBalance", json!([self.address, "latest"]))
            .await?;
        let b = u256_of(&v).unwrap_or_default();
        if let Ok(mut c) = self.balance_cache.lock() {
            *c = Some((Instant::now(), b));
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_core::wire::Speed;

    fn config() -> RelayerConfig {
        RelayerConfig::new("r", vec!["http://127.0.0.1:1".into()])
    }

    #[test]
    fn paused_and_whitelist_say_which_policy() {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        assert_eq!(check_receiver(&config(), Some(a)), Ok(()));
        assert_eq!(check_receiver(&config(), None), Ok(()));
        assert_eq!(
            check_receiver(&config().with_paused(true), Some(a)),
            Err(PolicyViolation::Paused)
        );
        let listed = config().with_whitelist(Some(vec![a]));
        assert_eq!(check_receiver(&listed, Some(a)), Ok(()));
        assert_eq!(
            check_receiver(&listed, Some(b)),
            Err(PolicyViolation::ReceiverNotWhitelisted { to: b })
        );
        assert_eq!(
            check_receiver(&listed, None),
            Err(PolicyViolation::DeploymentNotWhitelisted)
        );
    }

    #[test]
    fn explicit_fees_above_the_cap_are_refused_with_the_values() {
        let cap = Some(100);
        assert_eq!(
            check_price_cap(PricingStyle::Speed(Speed::Fastest), cap),
            Ok(())
        );
        assert_eq!(check_price_cap(PricingStyle::GasPrice(100), cap), Ok(()));
        assert_eq!(check_price_cap(PricingStyle::GasPrice(101), None), Ok(()));
        assert_eq!(
            check_price_cap(PricingStyle::GasPrice(101), cap),
            Err(PolicyViolation::GasPriceAboveCap {
                gas_price: 101,
                cap: 100
            })
        );
        let eip = |max| PricingStyle::Eip1559 {
            max_fee_per_gas: max,
            max_priority_fee_per_gas: 1,
        };
        assert_eq!(check_price_cap(eip(100), cap), Ok(()));
        let err = check_price_cap(eip(150), cap).unwrap_err();
        assert_eq!(
            err,
            PolicyViolation::MaxFeePerGasAboveCap {
                max_fee_per_gas: 150,
                cap: 100
            }
        );
        assert_eq!(
            RelayerError::from(err).to_string(),
            "relayer policy violated: EIP-1559 maxFeePerGas 150 is above the relayer's cap 100"
        );
    }

    #[test]
    fn funds_check_counts_what_is_in_flight() {
        let u = U256::from;
        assert!(check_funds(u(10), u(4), u(6)).is_ok());
        match check_funds(u(10), u(5), u(6)) {
            Err(RelayerError::InsufficientFunds {
                balance,
                pending_cost,
                required,
            }) => assert_eq!((balance, pending_cost, required), (u(10), u(5), u(6))),
            other => panic!("expected insufficient funds, got {other:?}"),
        }
    }
}
