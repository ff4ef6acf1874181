// Package dashboard holds the pages of the merchant dashboard.
package dashboard

import (
	"fmt"
	"strings"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// Chart is the overview's 30-day chart, laid out for a server-rendered SVG.
type Chart struct {
	Currency string
	Bars     []Bar
	Line     string // SVG polyline points for commissions
	MaxLabel string
	Width    int
	Height   int
}

// Bar is one day's sales bar.
type Bar struct {
	X, Y, W, H float64
	Title      string
}

// NewChart scales days into a width×height SVG: bars for sales, a line for
// commissions, both in one currency.
func NewChart(currency string, days []store.DayAmount) Chart {
	const w, h, pad = 720, 200, 4
	c := Chart{Currency: currency, Width: w, Height: h}
	var max int64 = 1
	for _, d := range days {
		if d.SaleCents > max {
			max = d.SaleCents
		}
		if d.CommissionCents > max {
			max = d.CommissionCents
		}
	}
	if currency != "" {
		c.MaxLabel = components.Money(max, currency)
	}
	if len(days) == 0 {
		return c
	}
	slot := float64(w) / float64(len(days))
	var pts []string
	for i, d := range days {
		bh := float64(h-pad) * float64(d.SaleCents) / float64(max)
		x := float64(i) * slot
		c.Bars = append(c.Bars, Bar{X: x + slot*0.15, Y: float64(h) - bh, W: slot * 0.7, H: bh,
			Title: fmt.Sprintf("%s: sales %s, commissions %s", d.Day.Format("Jan 2"),
				components.Money(d.SaleCents, currency), components.Money(d.CommissionCents, currency))})
		cy := float64(h) - float64(h-pad)*float64(d.CommissionCents)/float64(max)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x+slot/2, cy))
	}
	c.Line = strings.Join(pts, " ")
	return c
}

// OverviewView is the overview page's model.
type OverviewView struct {
	Month string
	*store.Overview
	Chart Chart
}

func fmtF(f float64) string { return fmt.Sprintf("%.1f", f) }
