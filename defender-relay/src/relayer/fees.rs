//! Pricing: market fees by speed, fee bumps for replacements, the gas price cap, and the
//! worst-case cost of a transaction.

use super::{policy, Shared};
use crate::hex::{field, quantity, u128_of};
use alloy_primitives::U256;
use defender_core::wire::{PricingStyle, RelayerTransaction, Speed};
use defender_core::RelayerError;
use serde_json::{json, Value};
use std::time::Instant;

/// The fees of a transaction: a legacy gas price or an EIP-1559 pair, in wei.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fees {
    /// A legacy gas price.
    Legacy(u128),
    /// An EIP-1559 fee cap and tip.
    Eip1559 {
        /// `maxFeePerGas`.
        max: u128,
        /// `maxPriorityFeePerGas`.
        prio: u128,
    },
}

impl Fees {
    /// The most paid per gas: the gas price or the fee cap.
    pub(super) fn max_price(self) -> u128 {
        match self {
            Fees::Legacy(p) => p,
            Fees::Eip1559 { max, .. } => max,
        }
    }

    /// The fees a transaction carries, if it is priced.
    pub(super) fn of(tx: &RelayerTransaction) -> Option<Fees> {
        match (
            tx.gas_price,
            tx.max_fee_per_gas,
            tx.max_priority_fee_per_gas,
        ) {
            (Some(p), _, _) => Some(Fees::Legacy(p)),
            (None, Some(max), Some(prio)) => Some(Fees::Eip1559 { max, prio }),
            _ => None,
        }
    }

    /// Writes these fees into a transaction (and clears the other style's).
    pub(super) fn apply(self, tx: &mut RelayerTransaction) {
        match self {
            Fees::Legacy(p) => {
                tx.gas_price = Some(p);
                tx.max_fee_per_gas = None;
                tx.max_priority_fee_per_gas = None;
            }
            Fees::Eip1559 { max, prio } => {
                tx.gas_price = None;
                tx.max_fee_per_gas = Some(max);
                tx.max_priority_fee_per_gas = Some(prio);
            }
        }
    }

    /// At least +10% over `self` on every component, and at least `market`.
    pub(super) fn bumped(self, market: Fees) -> Fees {
        let up = |x: u128| x.saturating_add(x / 10).saturating_add(1);
        match (self, market) {
            (Fees::Legacy(old), Fees::Legacy(m)) => Fees::Legacy(up(old).max(m)),
            (Fees::Eip1559 { max, prio }, Fees::Eip1559 { max: mm, prio: mp }) => {
                let prio = up(prio).max(mp);
                Fees::Eip1559 {
                    max: up(max).max(mm).max(prio),
                    prio,
                }
            }
            (Fees::Legacy(old), _) => Fees::Legacy(up(old).max(market.max_price())),
            (Fees::Eip1559 { max, prio }, Fees::Legacy(m)) => {
                let prio = up(prio);
                Fees::Eip1559 {
                    max: up(max).max(m).max(prio),
                    prio,
                }
            }
        }
    }

    /// No component above `cap` (the tip never above the fee cap).
    pub(super) fn capped(self, cap: Option<u128>) -> Fees {
        let Some(cap) = cap else { return self };
        match self {
            Fees::Legacy(p) => Fees::Legacy(p.min(cap)),
            Fees::Eip1559 { max, prio } => {
                let max = max.min(cap);
                Fees::Eip1559 {
                    max,
                    prio: prio.min(max),
                }
            }
        }
    }

    /// The fees of a resubmission of a transaction priced by speed: bumped over `self` and
    /// the market, then capped; `None` when the cap leaves no room for a +10% bump on every
    /// component (a node would refuse the replacement, so the transaction keeps waiting).
    pub(super) fn resubmission(self, market: Fees, cap: Option<u128>) -> Option<Fees> {
        let fees = self.bumped(market).capped(cap);
        let enough = match (self, fees) {
            (Fees::Legacy(o), Fees::Legacy(n)) => n >= o + o / 10,
            (Fees::Eip1559 { max: om, prio: op }, Fees::Eip1559 { max: nm, prio: np }) => {
                nm >= om + om / 10 && np >= op + op / 10
            }
            _ => true,
        };
        enough.then_some(fees)
    }
}

/// The most a transaction can cost: gas limit times the highest price per gas, plus its value.
pub(super) fn worst_case_cost(tx: &RelayerTransaction) -> U256 {
    let price = Fees::of(tx).map(Fees::max_price).unwrap_or_default();
    U256::from(tx.gas_limit) * U256::from(price) + tx.value.0
}

/// How a request is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Priced {
    /// The fees to sign with.
    pub(super) fees: Fees,
    /// The speed, when priced by speed.
    pub(super) speed: Option<Speed>,
    /// Whether the caller gave the fees (they are then never repriced).
    pub(super) fixed: bool,
}

impl Shared {
    /// Market fees for a speed (`None`: the default speed), reused for the fee cache's TTL.
    pub(super) async fn market_fees(&self, speed: Option<Speed>) -> Result<Fees, RelayerError> {
        if let Some(f) = self.cached_fees(speed) {
            return Ok(f);
        }
        // One lookup at a time: the senders that find the cache stale meanwhile take its
        // answer instead of asking the node again each.
        let _lookup = self.fee_lookup.lock().await;
        if let Some(f) = self.cached_fees(speed) {
            return Ok(f);
        }
        let fees = self.fetch_fees(speed.unwrap_or_default()).await?;
        if let Ok(mut c) = self.fee_cache.lock() {
            c.insert(speed, (Instant::now(), fees));
        }
        Ok(fees)
    }

    /// The cached fees for a speed, while fresh.
    fn cached_fees(&self, speed: Option<Speed>) -> Option<Fees> {
        let (at, f) = self.fee_cache.lock().ok()?.get(&speed).copied()?;
        (at.elapsed() < self.config.fee_cache_ttl).then_some(f)
    }

    /// Forgets every cached fee estimate (the market moved).
    pub(super) fn clear_fee_cache(&self) {
        if let Ok(mut c) = self.fee_cache.lock() {
            c.clear();
        }
    }

    /// Fees for a speed: `eth_feeHistory` percentiles (10, 50, 75, 95) on EIP-1559 chains,
    /// `eth_gasPrice` with a margin elsewhere; never a tip below the configured minimum.
    async fn fetch_fees(&self, speed: Speed) -> Result<Fees, RelayerError> {
        let min_tip = self.config.min_priority_fee;
        if self.eip1559 {
            let pct = [10.0, 50.0, 75.0, 95.0];
            let idx = match speed {
                Speed::SafeLow => 0,
                Speed::Average => 1,
                Speed::Fast => 2,
                Speed::Fastest => 3,
            };
            let h = self
                .rpc("eth_feeHistory", json!([quantity(10u64), "latest", pct]))
                .await?;
            let base = field(&h, "baseFeePerGas")
                .and_then(Value::as_array)
                .and_then(|a| a.last())
                .and_then(u128_of)
                .unwrap_or_default();
            let mut tips: Vec<u128> = field(&h, "reward")
                .and_then(Value::as_array)
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| r.as_array()?.get(idx).and_then(u128_of))
                        .collect()
                })
                .unwrap_or_default();
            tips.sort_unstable();
            let tip = tips.get(tips.len() / 2).copied().unwrap_or(0).max(min_tip);
            Ok(Fees::Eip1559 {
                max: base.saturating_mul(2).saturating_add(tip),
                prio: tip,
            })
        } else {
            let v = self.rpc("eth_gasPrice", json!([])).await?;
            let p = u128_of(&v).unwrap_or_default();
            let pct: u128 = match speed {
                Speed::SafeLow => 100,
                Speed::Average => 110,
                Speed::Fast => 125,
                Speed::Fastest => 150,
            };
            Ok(Fees::Legacy((p.saturating_mul(pct) / 100).max(min_tip)))
        }
    }

    /// Fees for a request: explicit ones checked against the cap, speed ones capped.
    pub(super) async fn fees_for(&self, pricing: PricingStyle) -> Result<Priced, RelayerError> {
        let cap = self.config.gas_price_cap;
        policy::check_price_cap(pricing, cap)?;
        Ok(match pricing {
            PricingStyle::Speed(s) => Priced {
                fees: self.market_fees(Some(s)).await?.capped(cap),
                speed: Some(s),
                fixed: false,
            },
            PricingStyle::GasPrice(p) => Priced {
                fees: Fees::Legacy(p),
                speed: None,
                fixed: true,
            },
            PricingStyle::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => Priced {
                fees: Fees::Eip1559 {
                    max: max_fee_per_gas,
                    prio: max_priority_fee_per_gas,
                },
                speed: None,
                fixed: true,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_are_at_least_ten_percent_and_follow_the_market() {
        let old = Fees::Eip1559 { max: 100, prio: 10 };
        assert_eq!(
            old.bumped(Fees::Eip1559 { max: 50, prio: 1 }),
            Fees::Eip1559 { max: 111, prio: 12 }
        );
        assert_eq!(
            old.bumped(Fees::Eip1559 { max: 500, prio: 40 }),
            Fees::Eip1559 { max: 500, prio: 40 }
        );
        assert_eq!(
            Fees::Legacy(1000).bumped(Fees::Legacy(1)),
            Fees::Legacy(1101)
        );
    }

    #[test]
    fn cap_limits_fee_cap_and_tip() {
        let f = Fees::Eip1559 { max: 100, prio: 90 }.capped(Some(50));
        assert_eq!(f, Fees::Eip1559 { max: 50, prio: 50 });
        assert_eq!(Fees::Legacy(10).capped(Some(50)), Fees::Legacy(10));
        assert_eq!(Fees::Legacy(10).capped(None), Fees::Legacy(10));
    }

    #[test]
    fn resubmission_needs_room_for_ten_percent_under_the_cap() {
        let legacy = Fees::Legacy(1000);
        assert_eq!(
            legacy.resubmission(Fees::Legacy(1), None),
            Some(Fees::Legacy(1101))
        );
        assert_eq!(
            legacy.resubmission(Fees::Legacy(1), Some(1100)),
            Some(Fees::Legacy(1100))
        );
        assert_eq!(legacy.resubmission(Fees::Legacy(1), Some(1099)), None);
        let eip = Fees::Eip1559 { max: 100, prio: 10 };
        assert_eq!(
            eip.resubmission(Fees::Eip1559 { max: 50, prio: 1 }, Some(200)),
            Some(Fees::Eip1559 { max: 111, prio: 12 })
        );
        assert_eq!(
            eip.resubmission(Fees::Eip1559 { max: 50, prio: 1 }, Some(105)),
            None
        );
    }

    #[test]
    fn worst_case_cost_is_gas_times_highest_price_plus_value() {
        let mut tx: RelayerTransaction = serde_json::from_value(serde_json::json!({
            "transactionId": "t", "hash": "0x", "from": "0x", "value": "5", "data": "0x",
            "gasLimit": 21000, "nonce": 0, "status": "pending", "chainId": 1,
            "validUntil": "2030-01-01T00:00:00.000Z", "createdAt": "2030-01-01T00:00:00.000Z"
        }))
        .expect("a transaction");
        assert_eq!(worst_case_cost(&tx), U256::from(5));
        Fees::Eip1559 { max: 3, prio: 1 }.apply(&mut tx);
        assert_eq!(worst_case_cost(&tx), U256::from(21_000 * 3 + 5));
    }
}
