// Package money holds the rules about amounts and currencies. Amounts are
// always integer minor units; nothing here uses floating point.
package money

import "strings"

// iso4217 is the list of active ISO 4217 currency codes.
var iso4217 = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD
XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL`) {
		iso4217[c] = true
	}
}

// NormalizeCurrency upper-cases code and reports whether it is a real ISO 4217 code.
func NormalizeCurrency(code string) (string, bool) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) != 3 || !iso4217[c] {
		return "", false
	}
	return c, true
}

// Exponent is the number of decimals of a currency's minor unit: 2 for USD,
// 0 for JPY, 3 for KWD.
func Exponent(code string) int {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	case "CLF", "UYW":
		return 4
	}
	return 2
}

var symbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}

// Format writes an amount for people: Format(123456, "USD") = "$1,234.56",
// Format(-500, "EUR") = "-€5.00", Format(1000, "CHF") = "10.00 CHF".
func Format(cents int64, code string) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	exp := Exponent(code)
	div := int64(1)
	for range exp {
		div *= 10
	}
	whole, frac := cents/div, cents%div
	s := groupThousands(whole)
	if exp > 0 {
		f := make([]byte, exp)
		for i := exp - 1; i >= 0; i-- {
			f[i] = byte('0' + frac%10)
			frac /= 10
		}
		s += "." + string(f)
	}
	sign := ""
	if neg {
		sign = "-"
	}
	if sym, ok := symbols[code]; ok {
		return sign + sym + s
	}
	return sign + s + " " + code
}

func groupThousands(n int64) string {
	digits := []byte(strconvItoa(n))
	var out []byte
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, d)
	}
	return string(out)
}

func strconvItoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
