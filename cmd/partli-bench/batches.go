package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// batchUse is what the server's hot-path batches of one kind (sale,
// click) were during a phase, read from its GET /metrics: how many
// transactions, how many rows each carried, how long the first row
// waited before its transaction began.
type batchUse struct {
	Batches    int64   `json:"batches"`
	Rows       float64 `json:"rows"`
	MeanSize   float64 `json:"meanSize"`
	MeanWaitMs float64 `json:"meanWaitMs"`
}

// batchCounts are the cumulative batch figures of a server by kind.
type batchCounts map[string]struct {
	n          uint64
	rows, wait float64
}

// scrapeBatches reads partli_batch_size and partli_batch_wait_seconds from
// a server's /metrics. An empty url (no metrics address) reads nothing.
func scrapeBatches(url string) (batchCounts, error) {
	if url == "" {
		return nil, nil
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	out := batchCounts{}
	for name, family := range families {
		if name != "partli_batch_size" && name != "partli_batch_wait_seconds" {
			continue
		}
		for _, m := range family.GetMetric() {
			kind := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					kind = l.GetValue()
				}
			}
			h := m.GetHistogram()
			c := out[kind]
			if name == "partli_batch_size" {
				c.n, c.rows = h.GetSampleCount(), h.GetSampleSum()
			} else {
				c.wait = h.GetSampleSum()
			}
			out[kind] = c
		}
	}
	return out, nil
}

// since is what happened between an earlier scrape and this one.
func (after batchCounts) since(before batchCounts) map[string]batchUse {
	out := map[string]batchUse{}
	for kind, a := range after {
		b := before[kind]
		n := int64(a.n - b.n)
		if n <= 0 {
			continue
		}
		rows := a.rows - b.rows
		out[kind] = batchUse{Batches: n, Rows: rows, MeanSize: rows / float64(n),
			MeanWaitMs: 1000 * (a.wait - b.wait) / float64(n)}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// batchLine describes a phase's batches for the report, "" when none.
func batchLine(m map[string]batchUse) string {
	var kinds []string
	for k := range m {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		b := m[k]
		parts = append(parts, fmt.Sprintf("%s: %d transactions, %.1f rows each, first row waited %.2f ms", k, b.Batches, b.MeanSize, b.MeanWaitMs))
	}
	return strings.Join(parts, "; ")
}
