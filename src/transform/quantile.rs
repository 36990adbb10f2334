//! `quantile_cont(x, p)`: the exact continuous percentile, as DuckDB's `quantile_cont` and
//! numpy's default (linear interpolation between closest ranks).
//!
//! DataFusion's own `percentile_cont` quantises the interpolation weight to 1e-6 (it truncates
//! `fraction * 1e6`), so p95 of five values can differ from numpy in the sixth decimal. The
//! clearance metrics promise the same digits as DuckDB, so this aggregate interpolates in f64
//! without quantising. It keeps the group's values (the exact answer needs them all).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{Accumulator, AggregateUDF, Volatility, create_udaf};
use datafusion::physical_expr::expressions::Literal;
use std::sync::Arc;

/// The continuous quantile of `values` (any order) at `p` in [0, 1].
pub fn quantile_cont(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let pos = p * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(if lo == hi {
        values[lo]
    } else {
        values[lo] + (values[hi] - values[lo]) * frac
    })
}

#[derive(Debug)]
struct QuantileAcc {
    p: f64,
    values: Vec<f64>,
}

impl Accumulator for QuantileAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> datafusion::common::Result<()> {
        let arr = datafusion::arrow::compute::cast(&values[0], &DataType::Float64)?;
        let arr = arr.as_primitive::<Float64Type>();
        self.values
            .extend(arr.iter().flatten().filter(|v| !v.is_nan()));
        Ok(())
    }
    fn evaluate(&mut self) -> datafusion::common::Result<ScalarValue> {
        let mut v = self.values.clone();
        Ok(ScalarValue::Float64(quantile_cont(&mut v, self.p)))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * 8
    }
    fn state(&mut self) -> datafusion::common::Result<Vec<ScalarValue>> {
        let values = Float64Array::from(std::mem::take(&mut self.values));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([values.len()]),
            Arc::new(values),
            None,
        );
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> datafusion::common::Result<()> {
        let list = states[0].as_list::<i32>();
        for i in 0..list.len() {
            if list.is_null(i) {
                continue;
            }
            let inner = list.value(i);
            let inner = inner.as_primitive::<Float64Type>();
            self.values.extend(inner.iter().flatten());
        }
        Ok(())
    }
}

pub fn udaf() -> AggregateUDF {
    create_udaf(
        "quantile_cont",
        vec![DataType::Float64, DataType::Float64],
        Arc::new(DataType::Float64),
        Volatility::Immutable,
        Arc::new(|args: AccumulatorArgs| {
            let p = args
                .exprs
                .get(1)
                .and_then(|e| e.downcast_ref::<Literal>())
                .and_then(|l| match l.value() {
                    ScalarValue::Float64(Some(p)) => Some(*p),
                    ScalarValue::Float32(Some(p)) => Some(f64::from(*p)),
                    ScalarValue::Int64(Some(p)) => Some(*p as f64),
                    _ => None,
                })
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    DataFusionError::Plan(
                        "quantile_cont(x, p): p must be a constant between 0 and 1".into(),
                    )
                })?;
            Ok(Box::new(QuantileAcc {
                p,
                values: Vec::new(),
            }))
        }),
        Arc::new(vec![DataType::List(Arc::new(Field::new_list_field(
            DataType::Float64,
            true,
        )))]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 90, 95]) = [3.0, 7.6, 8.8]
        let mut v = vec![10.0, 1.0, 4.0, 3.0, 2.0];
        assert_eq!(quantile_cont(&mut v, 0.5), Some(3.0));
        // Float arithmetic as DuckDB does it: lo + (hi - lo) * fraction.
        assert_eq!(
            quantile_cont(&mut v, 0.9),
            Some(4.0 + 6.0 * (0.9 * 4.0 - 3.0))
        );
        assert!((quantile_cont(&mut v, 0.95).unwrap() - 8.8).abs() < 1e-12);
        assert_eq!(quantile_cont(&mut [], 0.5), None);
        assert_eq!(quantile_cont(&mut [7.0], 0.9), Some(7.0));
    }
}
