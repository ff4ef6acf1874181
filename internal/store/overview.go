package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
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

// Overview sums a workspace's range from the roll-ups (store/stats.go):
// daily_totals in one pass (grouping sets) for the totals and the charts,
// daily_activity for clicks and leads, and for the top partners the whole
// months of the range from monthly_partner_earnings and the days at its
// ends from daily_partner_earnings. Sums are per currency: amounts in
// different currencies are never added together.
func (q Queries) Overview(ctx context.Context, workspaceID string, oq OverviewQuery) (*Overview, error) {
	o := &Overview{Query: oq}
	step := oq.Step()
	var rows []struct {
		Bucket    *time.Time `db:"bucket"`
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
	}
	err := q.sel(ctx, &rows, `
		SELECT date_trunc($5, day)::date AS bucket, currency,
			sum(sales) AS sales, sum(sale_cents) AS sale_cents,
			sum(pending_n) AS pending_n, sum(pending_cents) AS pending_cents,
			sum(approved_n) AS approved_n, sum(approved_cents) AS approved_cents,
			sum(paid_n) AS paid_n, sum(paid_cents) AS paid_cents,
			sum(clawed_back_n) AS clawed_back_n, sum(clawed_back_cents) AS clawed_back_cents
		FROM daily_totals
		WHERE workspace_id = $1 AND day >= $2 AND day < $3 AND ($4 = '' OR program_id = $4)
		GROUP BY GROUPING SETS ((currency), (date_trunc($5, day)::date, currency))`,
		workspaceID, oq.From, oq.To, oq.ProgramID, step)
	if err != nil {
		return nil, fmt.Errorf("store: overview: %w", err)
	}
	series := map[string]map[time.Time]Bucket{}
	for _, r := range rows {
		if r.Bucket == nil { // per currency
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
			continue
		}
		if series[r.Currency] == nil {
			series[r.Currency] = map[time.Time]Bucket{}
		}
		series[r.Currency][r.Bucket.UTC()] = Bucket{Start: r.Bucket.UTC(), SaleCents: r.SaleCents, Sales: r.Sales,
			CommissionCents: r.PendingC + r.ApprovedC + r.PaidC}
	}
	sort.Slice(o.Sales, func(i, j int) bool { return o.Sales[i].Cents > o.Sales[j].Cents })
	sort.SliceStable(o.Commissions, func(i, j int) bool { return o.Commissions[i].Currency < o.Commissions[j].Currency })

	// Top partners: the range as whole months of monthly_partner_earnings
	// plus or minus a few days of daily_partner_earnings (earningsParts).
	var parts []string
	args := []any{workspaceID, oq.ProgramID}
	for _, pt := range earningsParts(oq.From, oq.To) {
		args = append(args, pt.From, pt.To)
		table, col := "daily_partner_earnings", "day"
		if pt.Months {
			table, col = "monthly_partner_earnings", "month"
		}
		parts = append(parts, fmt.Sprintf(`SELECT partner_id, currency, %[1]d * earned_n AS n, %[1]d * earned_cents AS cents
			FROM %[2]s WHERE workspace_id = $1 AND ($2 = '' OR program_id = $2) AND %[3]s >= $%[4]d AND %[3]s < $%[5]d`,
			pt.Sign, table, col, len(args)-1, len(args)))
	}
	if len(parts) > 0 {
		if err := q.sel(ctx, &o.TopPartners, `
			SELECT e.partner_id, pa.name, e.currency, e.n, e.cents FROM (
				SELECT partner_id, currency, sum(n) AS n, sum(cents) AS cents FROM (`+strings.Join(parts, " UNION ALL ")+`) u
				GROUP BY partner_id, currency
				HAVING sum(n) > 0
				ORDER BY sum(cents) DESC, partner_id LIMIT 5
			) e JOIN partners pa ON pa.workspace_id = $1 AND pa.id = e.partner_id
			ORDER BY e.cents DESC, e.partner_id`, args...); err != nil {
			return nil, fmt.Errorf("store: overview top partners: %w", err)
		}
	}

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
	salesAt := map[time.Time]int64{}
	for _, s := range o.Series {
		for _, b := range s.Buckets {
			salesAt[b.Start] += b.Sales
		}
	}
	for _, t := range starts {
		b := byStart[t]
		b.Start, b.Sales = t, salesAt[t]
		o.Activity = append(o.Activity, b)
	}
	return o, nil
}

// earningsPart is a range of monthly (Months) or daily rows of the
// partners' earnings, added (Sign 1) or taken away (Sign -1).
type earningsPart struct {
	Months   bool
	From, To time.Time
	Sign     int
}

// earningsParts writes the days [from, to) as whole months plus or minus
// the fewest days: a month's start or end that the range cuts is either
// added day by day or, when that is more days, taken as the whole month
// less the days outside the range. So a range costs at most about a month
// of daily rows, whatever its length: "Feb 3 – Mar 29" is February minus
// Feb 1–2 plus March minus Mar 30–31.
func earningsParts(from, to time.Time) []earningsPart {
	if !from.Before(to) {
		return nil
	}
	month := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
	days := func(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }
	var parts []earningsPart
	add := func(months bool, a, b time.Time, sign int) {
		if a.Before(b) {
			parts = append(parts, earningsPart{Months: months, From: a, To: b, Sign: sign})
		}
	}
	// cover adds the days [a, b), all within the month starting at m.
	cover := func(m, a, b time.Time) {
		next := m.AddDate(0, 1, 0)
		if days(a, b) <= days(m, a)+days(b, next) {
			add(false, a, b, 1)
			return
		}
		add(true, m, next, 1)
		add(false, m, a, -1)
		add(false, b, next, -1)
	}
	first, last := month(from), month(to)
	if first.Equal(last) || (first.AddDate(0, 1, 0).Equal(last) && to.Equal(last)) {
		cover(first, from, minTime(to, first.AddDate(0, 1, 0)))
		return parts
	}
	whole := first
	if from.After(first) {
		cover(first, from, first.AddDate(0, 1, 0))
		whole = first.AddDate(0, 1, 0)
	}
	add(true, whole, last, 1)
	if to.After(last) {
		cover(last, last, to)
	}
	return parts
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
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
