// Package dashboard holds the pages of the merchant dashboard.
package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// Chart is one chart of the overview, laid out for a server-rendered SVG:
// bars (sales, or clicks) and an optional line (commissions, or sales),
// both on one scale. Axis labels are HTML beside the SVG, so they are never
// stretched with it; every bucket has a full-height column whose title
// shows its values on hover.
type Chart struct {
	Title, Legend, LineLegend string
	Width, Height             int
	Bars                      []Bar
	Line                      string // SVG polyline points; "" for none
	YLabels                   []string
	XLabels                   []string
}

// Bar is one bucket's bar and its hover column.
type Bar struct {
	X, Y, W, H float64
	ColX, ColW float64
	Title      string
}

const chartW, chartH, chartPad = 720, 200, 4

// newChart scales bars and an optional line into a chart; format writes a
// value as an axis label, title a bucket's hover text.
func newChart(starts []time.Time, bars, line []int64, format func(int64) string, title func(i int) string, step string) Chart {
	c := Chart{Width: chartW, Height: chartH}
	var max int64 = 1
	for i := range bars {
		max = maxOf(max, bars[i])
		if line != nil {
			max = maxOf(max, line[i])
		}
	}
	max = niceCeil(max)
	c.YLabels = []string{format(max), format(max / 2), format(0)}
	if len(bars) == 0 {
		return c
	}
	slot := float64(chartW) / float64(len(bars))
	var pts []string
	for i := range bars {
		bh := float64(chartH-chartPad) * float64(maxOf(bars[i], 0)) / float64(max)
		x := float64(i) * slot
		c.Bars = append(c.Bars, Bar{X: x + slot*0.15, Y: float64(chartH) - bh, W: slot * 0.7, H: bh,
			ColX: x, ColW: slot, Title: title(i)})
		if line != nil {
			cy := float64(chartH) - float64(chartH-chartPad)*float64(maxOf(line[i], 0))/float64(max)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x+slot/2, cy))
		}
	}
	c.Line = strings.Join(pts, " ")
	c.XLabels = axisDates(starts, step)
	return c
}

// niceCeil rounds a chart's maximum up to 1, 2 or 5 times a power of ten,
// so the axis reads in round numbers.
func niceCeil(v int64) int64 {
	if v <= 1 {
		return 1
	}
	p := int64(1)
	for p*10 < v {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// axisDates labels the first, middle and last bucket.
func axisDates(starts []time.Time, step string) []string {
	if len(starts) == 0 {
		return nil
	}
	f := func(t time.Time) string { return bucketLabel(t, step) }
	return []string{f(starts[0]), f(starts[len(starts)/2]), f(starts[len(starts)-1])}
}

// bucketLabel names a bucket: "Dec 3", "week of Dec 1", "Dec 2026".
func bucketLabel(t time.Time, step string) string {
	switch step {
	case "week":
		return "week of " + t.Format("Jan 2")
	case "month":
		return t.Format("Jan 2006")
	}
	return t.Format("Jan 2")
}

// NewChart is a partner's earnings per day in one currency (the portal's
// chart): a bar a day, each with its amount on hover.
func NewChart(currency string, days []store.DayAmount) Chart {
	n := len(days)
	starts, comm := make([]time.Time, n), make([]int64, n)
	for i, d := range days {
		starts[i], comm[i] = d.Day, d.CommissionCents
	}
	c := newChart(starts, comm, nil, func(v int64) string { return components.Money(v, currency) }, func(i int) string {
		return days[i].Day.Format("Jan 2") + ": " + components.Money(days[i].CommissionCents, currency)
	}, "day")
	c.Title, c.Legend = "Earnings in "+currency+", last 30 days", "Commissions"
	return c
}

// OverviewFilter is the overview's date range and program as chosen.
type OverviewFilter struct {
	Range, From, To, ProgramID string
	Ranges                     []RangeOption
}

// RangeOption is a ready-made range of the overview.
type RangeOption struct{ Key, Label string }

// OverviewView is the overview page's model.
type OverviewView struct {
	Filter   OverviewFilter
	Programs []Option
	Errors   map[string]string
	*store.Overview
	Period     string // the range in words
	Charts     []Chart
	Activity   Chart
	Conversion string
}

// NewOverviewView lays out the overview: a chart per currency (sales bars,
// commissions line) and one of clicks with sales.
func NewOverviewView(f OverviewFilter, programs []Option, errs map[string]string, o *store.Overview) OverviewView {
	v := OverviewView{Filter: f, Programs: programs, Errors: errs, Overview: o}
	last := o.Query.To.AddDate(0, 0, -1)
	v.Period = o.Query.From.Format("Jan 2, 2006") + " – " + last.Format("Jan 2, 2006")
	if o.Query.From.Equal(last) {
		v.Period = last.Format("Jan 2, 2006")
	}
	step := o.Query.Step()
	for _, s := range o.Series {
		n := len(s.Buckets)
		starts, sales, comm := make([]time.Time, n), make([]int64, n), make([]int64, n)
		for i, b := range s.Buckets {
			starts[i], sales[i], comm[i] = b.Start, b.SaleCents, b.CommissionCents
		}
		cur := s.Currency
		c := newChart(starts, sales, comm, func(v int64) string { return components.Money(v, cur) }, func(i int) string {
			b := s.Buckets[i]
			return fmt.Sprintf("%s: sales %s (%s), commissions %s", bucketLabel(b.Start, step),
				components.Money(b.SaleCents, cur), plural(b.Sales, "sale"), components.Money(b.CommissionCents, cur))
		}, step)
		c.Title, c.Legend, c.LineLegend = "Sales in "+cur, "Sales", "Commissions"
		v.Charts = append(v.Charts, c)
	}
	n := len(o.Activity)
	starts, clicks, sales := make([]time.Time, n), make([]int64, n), make([]int64, n)
	for i, a := range o.Activity {
		starts[i], clicks[i], sales[i] = a.Start, a.Clicks, a.Sales
	}
	v.Activity = newChart(starts, clicks, sales, func(v int64) string { return strconv.FormatInt(v, 10) }, func(i int) string {
		a := o.Activity[i]
		return fmt.Sprintf("%s: %s, %s, %s", bucketLabel(a.Start, step), plural(a.Clicks, "click"), plural(a.Leads, "lead"), plural(a.Sales, "sale"))
	}, step)
	v.Activity.Title, v.Activity.Legend, v.Activity.LineLegend = "Clicks and sales", "Clicks", "Sales"
	v.Conversion = conversion(o.SalesCount, o.Clicks)
	return v
}

// conversion is sales per click as a percentage, "—" without clicks.
func conversion(sales, clicks int64) string {
	if clicks == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(sales)/float64(clicks), 'f', 1, 64) + "%"
}

// plural is "1 sale", "2 sales".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// RangeHref is the overview with a ready-made range, keeping the program.
func (f OverviewFilter) RangeHref(key string) string {
	return withQuery("/", queryOf("range", key, "programId", f.ProgramID))
}

func fmtF(f float64) string { return fmt.Sprintf("%.1f", f) }
