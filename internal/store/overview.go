package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Amount is a sum of money in one currency.
type Amount struct {
	Currency string `db:"currency"`
	Count    int64  `db:"n"`
	Cents    int64  `db:"cents"`
}

// StatusAmount is a commission total for one status and currency.
type StatusAmount struct {
	Status string `db:"status"`
	Amount
}

// PartnerAmount is a partner's commission total in one currency.
type PartnerAmount struct {
	PartnerID string `db:"partner_id"`
	Name      string `db:"name"`
	Amount
}

// DayAmount is one day of a partner's earnings chart in the portal.
type DayAmount struct {
	Day             time.Time `db:"day"`
	SaleCents       int64     `db:"sale_cents"`
	CommissionCents int64     `db:"commission_cents"`
}

// Bucket is one point of the overview's charts: a day, a week or a month,
// by the length of the range.
type Bucket struct {
	Start           time.Time
	SaleCents       int64
	CommissionCents int64 // commissions not clawed back
	Sales           int64
}

// CurrencySeries is one currency's chart: a bucket for every step of the
// range, zero where nothing happened.
type CurrencySeries struct {
	Currency string
	Buckets  []Bucket
}

// ActivityBucket is a bucket of what has no currency.
type ActivityBucket struct {
	Start         time.Time
	Clicks, Leads int64
	Sales         int64 // in every currency
}

// OverviewQuery is the overview's range: From inclusive, To exclusive,
// whole UTC days; ProgramID narrows it to one program.
type OverviewQuery struct {
	From, To  time.Time
	ProgramID string
}

// Step is the chart's bucket for the range: "day" up to 92 days, "week" up
// to two years, else "month".
func (q OverviewQuery) Step() string {
	switch days := q.To.Sub(q.From).Hours() / 24; {
	case days <= 92:
		return "day"
	case days <= 731:
		return "week"
	}
	return "month"
}

// Overview is the dashboard's first page for a date range.
type Overview struct {
	Query       OverviewQuery
	Sales       []Amount       // per currency
	Commissions []StatusAmount // per currency and status
	TopPartners []PartnerAmount
	Series      []CurrencySeries
	Activity    []ActivityBucket
	Clicks      int64
	Leads       int64
	SalesCount  int64 // in every currency
}

// Overview sums a workspace's range from the daily roll-ups (store/stats.go):
// one row per partner, day and currency, read in one pass (grouping sets)
// for the totals, the top partners and the charts, and one for clicks and
// leads. Sums are per currency: amounts in different currencies are never
// added together.
func (q Queries) Overview(ctx context.Context, workspaceID string, oq OverviewQuery) (*Overview, error) {
	o := &Overview{Query: oq}
	step := oq.Step()
	var rows []struct {
		Bucket    *time.Time `db:"bucket"`
		PartnerID *string    `db:"partner_id"`
		Currency  string     `db:"currency"`
		Sales     int64      `db:"sales"`
		SaleCents int64      `db:"sale_cents"`
		PendingN  int64      `db:"pending_n"`
		PendingC  int64      `db:"pending_cents"`
		ApprovedN int64      `db:"approved_n"`
		ApprovedC int64      `db:"approved_cents"`
		PaidN     int64      `db:"paid_n"`
		PaidC     int64      `db:"paid_cents"`
		ClawedN   int64      `db:"clawed_back_n"`
		ClawedC   int64      `db:"clawed_back_cents"`
		Grouping  int        `db:"g"`
	}
	err := q.sel(ctx, &rows, `
		SELECT date_trunc($5, day)::date AS bucket, partner_id, currency,
			sum(sales) AS sales, sum(sale_cents) AS sale_cents,
			sum(pending_n) AS pending_n, sum(pending_cents) AS pending_cents,
			sum(approved_n) AS approved_n, sum(approved_cents) AS approved_cents,
			sum(paid_n) AS paid_n, sum(paid_cents) AS paid_cents,
			sum(clawed_back_n) AS clawed_back_n, sum(clawed_back_cents) AS clawed_back_cents,
			GROUPING(date_trunc($5, day)::date, partner_id) AS g
		FROM daily_stats
		WHERE workspace_id = $1 AND day >= $2 AND day < $3 AND ($4 = '' OR program_id = $4)
		GROUP BY GROUPING SETS ((currency), (partner_id, currency), (date_trunc($5, day)::date, currency))`,
		workspaceID, oq.From, oq.To, oq.ProgramID, step)
	if err != nil {
		return nil, fmt.Errorf("store: overview: %w", err)
	}
	series := map[string]map[time.Time]Bucket{}
	var partners []PartnerAmount
	for _, r := range rows {
		switch r.Grouping {
		case 3: // per currency
			if r.Sales > 0 {
				o.Sales = append(o.Sales, Amount{Currency: r.Currency, Count: r.Sales, Cents: r.SaleCents})
			}
			o.SalesCount += r.Sales
			for _, s := range []StatusAmount{
				{"pending", Amount{r.Currency, r.PendingN, r.PendingC}}, {"approved", Amount{r.Currency, r.ApprovedN, r.ApprovedC}},
				{"paid", Amount{r.Currency, r.PaidN, r.PaidC}}, {"clawed_back", Amount{r.Currency, r.ClawedN, r.ClawedC}},
			} {
				if s.Count != 0 {
					o.Commissions = append(o.Commissions, s)
				}
			}
		case 2: // per partner and currency
			if n := r.PendingN + r.ApprovedN + r.PaidN; n > 0 {
				partners = append(partners, PartnerAmount{PartnerID: *r.PartnerID,
					Amount: Amount{Currency: r.Currency, Count: n, Cents: r.PendingC + r.ApprovedC + r.PaidC}})
			}
		case 1: // per bucket and currency
			if series[r.Currency] == nil {
				series[r.Currency] = map[time.Time]Bucket{}
			}
			series[r.Currency][r.Bucket.UTC()] = Bucket{Start: r.Bucket.UTC(), SaleCents: r.SaleCents, Sales: r.Sales,
				CommissionCents: r.PendingC + r.ApprovedC + r.PaidC}
		}
	}
	sort.Slice(o.Sales, func(i, j int) bool { return o.Sales[i].Cents > o.Sales[j].Cents })
	sort.SliceStable(o.Commissions, func(i, j int) bool { return o.Commissions[i].Currency < o.Commissions[j].Currency })
	sort.Slice(partners, func(i, j int) bool { return partners[i].Cents > partners[j].Cents })
	if len(partners) > 5 {
		partners = partners[:5]
	}
	if err := q.partnerNames(ctx, workspaceID, partners); err != nil {
		return nil, err
	}
	o.TopPartners = partners
	starts := bucketStarts(oq, step)
	for _, a := range o.Sales {
		cs := CurrencySeries{Currency: a.Currency}
		for _, t := range starts {
			b := series[a.Currency][t]
			b.Start = t
			cs.Buckets = append(cs.Buckets, b)
		}
		o.Series = append(o.Series, cs)
	}

	var acts []struct {
		Bucket time.Time `db:"bucket"`
		Clicks int64     `db:"clicks"`
		Leads  int64     `db:"leads"`
	}
	if err := q.sel(ctx, &acts, `
		SELECT date_trunc($5, day)::date AS bucket, sum(clicks) AS clicks, sum(leads) AS leads FROM daily_activity
		WHERE workspace_id = $1 AND day >= $2 AND day < $3 AND ($4 = '' OR program_id = $4)
		GROUP BY 1`, workspaceID, oq.From, oq.To, oq.ProgramID, step); err != nil {
		return nil, fmt.Errorf("store: overview activity: %w", err)
	}
	byStart := map[time.Time]ActivityBucket{}
	for _, a := range acts {
		byStart[a.Bucket.UTC()] = ActivityBucket{Start: a.Bucket.UTC(), Clicks: a.Clicks, Leads: a.Leads}
		o.Clicks += a.Clicks
		o.Leads += a.Leads
	}
	for _, t := range starts {
		b := byStart[t]
		b.Start = t
		for _, s := range o.Series {
			for _, sb := range s.Buckets {
				if sb.Start.Equal(t) {
					b.Sales += sb.Sales
				}
			}
		}
		o.Activity = append(o.Activity, b)
	}
	return o, nil
}

// partnerNames fills in the names of ps.
func (q Queries) partnerNames(ctx context.Context, workspaceID string, ps []PartnerAmount) error {
	if len(ps) == 0 {
		return nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.PartnerID
	}
	var names []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := q.sel(ctx, &names, `SELECT id, name FROM partners WHERE workspace_id = $1 AND id = ANY($2)`,
		workspaceID, partnerIDs(ids)); err != nil {
		return fmt.Errorf("store: overview partner names: %w", err)
	}
	for i := range ps {
		for _, n := range names {
			if n.ID == ps[i].PartnerID {
				ps[i].Name = n.Name
			}
		}
	}
	return nil
}

// bucketStarts are the starts of the range's buckets, as date_trunc makes
// them: days, ISO weeks (Mondays) or months.
func bucketStarts(q OverviewQuery, step string) []time.Time {
	var out []time.Time
	t := q.From.UTC()
	switch step {
	case "week":
		t = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
	case "month":
		t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	for t.Before(q.To) {
		out = append(out, t)
		switch step {
		case "day":
			t = t.AddDate(0, 0, 1)
		case "week":
			t = t.AddDate(0, 0, 7)
		default:
			t = t.AddDate(0, 1, 0)
		}
	}
	return out
}
