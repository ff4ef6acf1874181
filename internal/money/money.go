package money

import "math/big"

// MaxSaleCents is the largest sale amount accepted (ten billion in major units).
const MaxSaleCents int64 = 1_000_000_000_000

// PercentOf returns amountCents × basisPoints / 10000, rounded half up to a
// whole minor unit. basisPoints is a percentage in hundredths (12.5% = 1250).
// Exact integer arithmetic: amountCents ≤ 1e12 and basisPoints ≤ 10000 keep
// the product far below the int64 limit. Negative amounts round half away
// from zero, so a refund mirrors the sale it undoes.
func PercentOf(amountCents, basisPoints int64) int64 {
	p := amountCents * basisPoints
	if p < 0 {
		return -((-p + 5000) / 10000)
	}
	return (p + 5000) / 10000
}

// ProRata returns part × num / den rounded half up: the share of a commission
// that a partial refund covers. The product can exceed int64 (both factors go
// up to 1e12), so it is computed exactly with big integers. den must be > 0.
func ProRata(part, num, den int64) int64 {
	p := new(big.Int).Mul(big.NewInt(part), big.NewInt(num))
	p.Mul(p, big.NewInt(2))
	p.Add(p, big.NewInt(den))
	d := new(big.Int).Mul(big.NewInt(den), big.NewInt(2))
	return p.Div(p, d).Int64() // (2·part·num + den) / (2·den), floor = half up for non-negative values
}
