package web

// An internal test: readSale and parseBody are unexported. It shares the
// test binary (and TestMain) of the package's web_test tests.

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/tracking"
)

// fuzzNow is the "now" of FuzzReadSale: fixed, so a failure replays.
var fuzzNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// saleBodyFields are the fields of a POST /api/track/sale body (the OpenAPI document).
var saleBodyFields = []string{"externalId", "customerExternalId", "amountCents", "currency", "clickId", "eventName", "metadata", "occurredAt"}

// FuzzReadSale decodes and validates arbitrary POST /api/track/sale bodies.
// Whatever the bytes, it never panics, and the outcome is deterministic and
// either a SaleInput that keeps every rule of the API contract or a 400 naming exactly
// the body's fields that break them. `make fuzz-short` runs it for a few
// seconds in CI, `make fuzz` for longer; seeds are in the f.Add calls and in
// testdata/fuzz/FuzzReadSale/.
func FuzzReadSale(f *testing.F) {
	for _, seed := range []string{
		`{"externalId":"order-1","customerExternalId":"cust-1","amountCents":4999}`,
		`{"externalId":" order-2 ","customerExternalId":"cust-1","amountCents":1e3,"currency":"eur","clickId":"c_abc",` +
			`"eventName":"upgrade","metadata":{"plan":"pro","seats":[1,2]},"occurredAt":"2026-04-30T10:00:00.123+02:00"}`,
		`{"externalId":"","customerExternalId":"   ","amountCents":0,"currency":"XXX","metadata":[],"occurredAt":"yesterday"}`,
		`{"externalId":1,"customerExternalId":null,"amountCents":"12","currency":true,"clickId":{},"eventName":[],"metadata":"{}","occurredAt":5}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":1000000000001}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":1000000000000,"currency":null,"metadata":null,"occurredAt":null}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":12.5}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":-1}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":99999999999999999999}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":1e400}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":0.99999999999999999999}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":5,"occurredAt":"2026-05-01T12:05:00.000000001Z"}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":5,"occurredAt":"2026-05-01T12:05:00Z"}`,
		`{"externalId":"a","externalId":"b","customerExternalId":"\u00e9\ud83d\ude00","amountCents":5,"eventName":"   "}`,
		`{"externalId":"` + strings.Repeat("é", 255) + `","customerExternalId":"` + strings.Repeat("x", 256) + `","amountCents":5}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":5,"metadata":{"k":"` + strings.Repeat("v", MaxMetadataBytes) + `"}}`,
		`{"externalId":"a\u0000","customerExternalId":"\xff\xfe","amountCents":5,"unknown":{"x":1}}`,
		`{"externalId":"a\ud800","customerExternalId":"b\udc00x","amountCents":5,"metadata":{"k":["\ud83d\ude00","\ud83d"]}}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":5,"metadata":{"k":` + strings.Repeat("[", 17) + strings.Repeat("]", 17) + `}}`,
		`{"externalId":"a","customerExternalId":"b","amountCents":5,"occurredAt":"1999-12-31T23:59:59Z","x\xff":1}`,
		`{"0":"` + "\xff" + `0`, `{"a":[1,"` + "\xff" + `"],"b":tru}`, `{"a":` + strings.Repeat("[", 20) + `,`,
		`{}`, `[]`, `null`, ``, `{"externalId":`, ` {"amountCents":1} `, "\u00a0{}", `{"a":1}{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := fuzzDecodeSale(data)
		in2, err2 := fuzzDecodeSale(data)
		if !reflect.DeepEqual(in, in2) || !reflect.DeepEqual(err, err2) {
			t.Fatalf("validation is not deterministic for %q:\n%+v, %v\n%+v, %v", data, in, err, in2, err2)
		}
		raw, isObject := fuzzObject(data)
		if isObject && (fuzzBadText(data) || fuzzDepth(data) > MaxJSONDepth+1) {
			// Text that is not Unicode, or nesting deeper than any field may
			// go: one 400, naming the field (invalid_json for a field name
			// of the body itself).
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != 400 ||
				!(apiErr.Code == "invalid_json" || apiErr.Code == "validation_failed" && len(apiErr.Fields) == 1) {
				t.Fatalf("%q holds invalid text or nests too deep: %+v, %v; want one 400", data, in, err)
			}
			return
		}
		if err != nil {
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("%q: error %T %v, want an *APIError", data, err, err)
			}
			if apiErr.Status != 400 {
				t.Fatalf("%q: status %d, want 400: %v", data, apiErr.Status, apiErr)
			}
			if apiErr.Code == "invalid_json" {
				if isObject {
					t.Fatalf("%q is a JSON object but was refused as invalid_json: %v", data, apiErr)
				}
				return
			}
			if apiErr.Code != "validation_failed" || len(apiErr.Fields) == 0 {
				t.Fatalf("%q: %+v, want validation_failed with fields", data, apiErr)
			}
			for name, msg := range apiErr.Fields {
				if !slices.Contains(saleBodyFields, name) || msg == "" {
					t.Fatalf("%q: field error %q: %q does not name a field of the sale body", data, name, msg)
				}
			}
		} else if !isObject {
			t.Fatalf("%q is not a JSON object but was accepted: %+v", data, in)
		}
		if !isObject {
			return
		}
		want, maybe := fuzzSaleProblems(t, raw)
		got := map[string]bool{}
		if err != nil {
			for name := range err.(*APIError).Fields {
				got[name] = true
			}
		}
		for _, name := range saleBodyFields {
			if got[name] != want[name] && !maybe[name] {
				t.Fatalf("%q: field %s: refused=%v, but the contract says refused=%v (fields %v)", data, name, got[name], want[name], got)
			}
		}
		if err == nil {
			fuzzCheckSale(t, data, raw, in)
		}
	})
}

// fuzzDecodeSale is the handler's path from body bytes to a SaleInput.
func fuzzDecodeSale(data []byte) (tracking.SaleInput, error) {
	b, err := parseBody(data)
	if err != nil {
		return tracking.SaleInput{}, err
	}
	return readSale(b, fuzzNow)
}

// fuzzObject decodes data as one JSON object with the standard library alone.
// Like parseBody, it ignores surrounding white space (Unicode's included).
func fuzzObject(data []byte) (map[string]json.RawMessage, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, false
	}
	return m, true
}

// fuzzBadText reports whether a JSON text holds invalid UTF-8 or a lone
// surrogate escape, as the JSON v2 prototype judges it.
func fuzzBadText(data []byte) bool {
	return !jsontext.Value(bytes.TrimSpace(data)).IsValid(jsontext.AllowDuplicateNames(true))
}

// fuzzDepth is how deeply a JSON text nests arrays and objects (the body's
// object is 1).
func fuzzDepth(data []byte) int {
	d := json.NewDecoder(bytes.NewReader(data))
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// fuzzField decodes one field: absent and null are both "not given".
func fuzzField(raw map[string]json.RawMessage, name string) (any, bool) {
	v, ok := raw[name]
	if !ok {
		return nil, false
	}
	out, err := fuzzJSON(v)
	if err != nil {
		panic("field " + name + " of a valid object is not JSON: " + err.Error())
	}
	return out, out != nil
}

// fuzzSaleProblems applies the rules of the API contract to a decoded body: want holds
// the fields the contract refuses; maybe the fields it cannot judge exactly
// (numbers with an exponent too large to expand).
func fuzzSaleProblems(t *testing.T, raw map[string]json.RawMessage) (want, maybe map[string]bool) {
	want, maybe = map[string]bool{}, map[string]bool{}
	text := func(name string, required bool) {
		v, given := fuzzField(raw, name)
		if !given {
			want[name] = required
			return
		}
		s, ok := v.(string)
		if !ok {
			want[name] = true
			return
		}
		n := utf8.RuneCountInString(strings.TrimSpace(s))
		want[name] = n > 255 || (required && n == 0) || strings.ContainsRune(s, 0) // PostgreSQL cannot store NUL
	}
	text("externalId", true)
	text("customerExternalId", true)
	text("clickId", false)
	text("eventName", false)

	if v, given := fuzzField(raw, "amountCents"); !given {
		want["amountCents"] = true
	} else if num, ok := v.(json.Number); !ok {
		want["amountCents"] = true
	} else {
		switch ok, known := fuzzAmountAccepted(string(num)); {
		case !known:
			maybe["amountCents"] = true
		default:
			want["amountCents"] = !ok
		}
	}

	if v, given := fuzzField(raw, "currency"); given {
		s, ok := v.(string)
		_, real := money.NormalizeCurrency(s)
		want["currency"] = !ok || !real
	}

	if v, given := fuzzField(raw, "metadata"); given {
		_, isObject := v.(map[string]any)
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw["metadata"]); err != nil {
			t.Fatalf("compact metadata: %v", err)
		}
		want["metadata"] = !isObject || buf.Len() > MaxMetadataBytes || bytes.Contains(buf.Bytes(), []byte(`\u0000`))
	}

	if v, given := fuzzField(raw, "occurredAt"); given {
		s, ok := v.(string)
		at, err := time.Parse(time.RFC3339Nano, s)
		want["occurredAt"] = !ok || err != nil || at.After(fuzzNow.Add(5*time.Minute)) || at.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	return want, maybe
}

// fuzzAmountAccepted judges a JSON number as amountCents: an integer from 1
// to MaxSaleCents, however it is written (4999, 4999.0, 4.999e3). known is
// false when the exponent is too large to expand exactly here.
//
// Known deviation: body.int reads a number with a fraction or an exponent
// through float64, so a fraction finer than float64 can hold at that size
// (0.99999999999999999999, 4999.0000000000000001) is read as the integer it
// rounds to. That is accepted here too, but only when it rounds to exactly
// that integer.
func fuzzAmountAccepted(s string) (ok, known bool) {
	r, known := fuzzExactNumber(s)
	if !known {
		return false, false
	}
	inRange := func(r *big.Rat) bool {
		return r.Cmp(big.NewRat(1, 1)) >= 0 && r.Cmp(new(big.Rat).SetInt64(money.MaxSaleCents)) <= 0
	}
	if r.IsInt() {
		return inRange(r), true
	}
	if !strings.ContainsAny(s, ".eE") {
		return false, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) {
		return false, true
	}
	return inRange(new(big.Rat).SetFloat64(f)), true
}

// fuzzExactNumber is the exact value of a JSON number, unless its exponent
// is too large to expand cheaply (1e999999999).
func fuzzExactNumber(s string) (*big.Rat, bool) {
	if _, exp, hasExp := strings.Cut(strings.ToLower(s), "e"); hasExp {
		e, err := strconv.Atoi(exp)
		if err != nil || e > 64 || e < -64 {
			return nil, false
		}
	}
	return new(big.Rat).SetString(s)
}

// fuzzJSON decodes JSON keeping numbers as written.
func fuzzJSON(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var out any
	err := d.Decode(&out)
	return out, err
}

// fuzzCheckSale checks an accepted sale against the rules of the API contract and the
// body it came from.
func fuzzCheckSale(t *testing.T, data []byte, raw map[string]json.RawMessage, in tracking.SaleInput) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%q accepted as %+v: "+format, append([]any{data, in}, args...)...)
	}
	str := func(name string) string {
		v, _ := fuzzField(raw, name)
		s, _ := v.(string)
		return strings.TrimSpace(s)
	}
	for name, v := range map[string]string{"externalId": in.ExternalID, "customerExternalId": in.CustomerExternalID} {
		if n := utf8.RuneCountInString(v); n < 1 || n > 255 || !utf8.ValidString(v) {
			fail("%s has %d characters, want 1 to 255 of valid UTF-8", name, n)
		}
		if v != str(name) {
			fail("%s is %q, the body says %q", name, v, str(name))
		}
	}
	if in.AmountCents < 1 || in.AmountCents > money.MaxSaleCents {
		fail("amountCents %d is outside 1…%d", in.AmountCents, money.MaxSaleCents)
	}
	if v, _ := fuzzField(raw, "amountCents"); v != nil {
		if r, ok := fuzzExactNumber(string(v.(json.Number))); ok {
			diff := new(big.Rat).Sub(r, new(big.Rat).SetInt64(in.AmountCents))
			if diff.Abs(diff).Cmp(big.NewRat(1, 2)) > 0 {
				fail("amountCents %d is not the body's %s", in.AmountCents, v)
			}
		}
	}
	if c, real := money.NormalizeCurrency(in.Currency); !real || c != in.Currency || len(c) != 3 || strings.ToUpper(c) != c {
		fail("currency %q is not an upper-case ISO 4217 code", in.Currency)
	}
	if _, given := fuzzField(raw, "currency"); !given && in.Currency != "USD" {
		fail("currency %q, want the default USD", in.Currency)
	}
	if utf8.RuneCountInString(in.ClickID) > 255 || in.ClickID != str("clickId") {
		fail("clickId %q, the body says %q", in.ClickID, str("clickId"))
	}
	wantEvent := str("eventName")
	if wantEvent == "" {
		wantEvent = "sale"
	}
	if in.EventName != wantEvent || utf8.RuneCountInString(in.EventName) > 255 {
		fail("eventName %q, want %q", in.EventName, wantEvent)
	}
	if in.Metadata != nil {
		m, err := fuzzJSON(in.Metadata)
		if _, isObject := m.(map[string]any); len(in.Metadata) > MaxMetadataBytes || err != nil || !isObject {
			fail("metadata is not a JSON object of at most %d bytes", MaxMetadataBytes)
		}
		if orig, _ := fuzzJSON(raw["metadata"]); !reflect.DeepEqual(m, orig) {
			fail("metadata %s is not the body's %s", in.Metadata, raw["metadata"])
		}
	} else if _, given := fuzzField(raw, "metadata"); given {
		fail("the body's metadata was dropped")
	}
	if in.OccurredAt.After(fuzzNow.Add(5*time.Minute)) || in.OccurredAt.Location() != time.UTC {
		fail("occurredAt %s is more than 5 minutes ahead of %s or not in UTC", in.OccurredAt, fuzzNow)
	}
	if _, given := fuzzField(raw, "occurredAt"); !given && !in.OccurredAt.Equal(fuzzNow) {
		fail("occurredAt %s, want now (%s)", in.OccurredAt, fuzzNow)
	}
}

// FuzzScanBody checks the scan every JSON body goes through against the
// JSON v2 prototype's validation and a depth count by encoding/json's
// tokens: on well-formed JSON it finds a problem exactly when the text holds
// invalid UTF-8 or a lone surrogate escape, or nests more than MaxJSONDepth
// levels below a field; it never panics.
func FuzzScanBody(f *testing.F) {
	for _, seed := range []string{
		`{"a":"b"}`, `{"a":"\ud83d\ude00","b":"\ud83d"}`, `{"a":"\udc00"}`, `{"a":["x","\ud800\u0041"]}`,
		`{"a":` + strings.Repeat("[", 16) + strings.Repeat("]", 16) + `}`,
		`{"a":` + strings.Repeat("[", 17) + strings.Repeat("]", 17) + `}`,
		`{"a":{"b":{"c":1e5,"d":-0.5,"e":[true,false,null]}}}`, `{"a\u00e9":"\u00e9"}`,
		"{\"a\":\"\xff\"}", "{\"\xc3\":1}", "{\"a\":{\"\xed\xa0\x80\":1}}", `{"a":tru}`, `{"a":01}`, `{"a":"\x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := scanBody(data)
		trimmed := bytes.TrimSpace(data)
		if !json.Valid(trimmed) {
			if p != nil && len(data) < 10000 { // longer texts may be valid but nested past encoding/json's limit
				t.Fatalf("%q is not JSON, yet scanBody found %+v (parseBody must say invalid_json)", data, p)
			}
			return
		}
		want := fuzzBadText(data) || fuzzDepth(data) > MaxJSONDepth+1
		if (p != nil) != want {
			t.Fatalf("%q: scanBody found %+v; want a problem: %v", data, p, want)
		}
		if p != nil && p.msg == "" {
			t.Fatalf("%q: a problem without a message", data)
		}
	})
}
