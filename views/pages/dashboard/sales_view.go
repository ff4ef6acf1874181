package dashboard

import (
	"net/url"

	"github.com/partli/partli/internal/store"
)

// Option is one choice of a filter's <select>.
type Option struct {
	Value, Label string
}

// SalesFilter is the sales list's filter as the user typed it.
type SalesFilter struct {
	ProgramID string
	Partner   string // a partner's id, link slug or email
	Customer  string // the merchant's customer id
	From, To  string // YYYY-MM-DD, UTC, both inclusive
}

// Query is the filter as URL parameters (empty ones left out).
func (f SalesFilter) Query() url.Values {
	return queryOf("programId", f.ProgramID, "partner", f.Partner, "customer", f.Customer, "from", f.From, "to", f.To)
}

// Active reports whether any filter is set.
func (f SalesFilter) Active() bool { return len(f.Query()) > 0 }

// SalesView is the sales list page.
type SalesView struct {
	Filter        SalesFilter
	Errors        map[string]string
	Programs      []Option
	PartnerFilter PartnerFilter // who the partner filter matched
	Rows          []store.SaleRow
	NextURL       string
}

// SaleView is one sale's page.
type SaleView struct {
	Sale        *store.SaleDetail
	Metadata    string // compact JSON, empty when the sale has none
	Commissions []store.CommissionRow
}

// queryOf builds URL parameters from name, value pairs, leaving out empty values.
func queryOf(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

// withQuery is path with q as its query string.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
