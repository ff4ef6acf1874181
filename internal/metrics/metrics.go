// Package metrics is Partli's Prometheus instrumentation: HTTP requests by
// route and status, the database pool, the outboxes' depth and age, and the
// hot path's batches. Each replica serves its own registry at GET /metrics
// on PARTLI_METRICS_ADDR (a loopback or private address, never the public
// one), in the Prometheus text format.
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds a replica's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	Requests *prometheus.CounterVec
	Latency  *prometheus.HistogramVec

	// BatchSize and BatchWait describe the hot path's write batches (sales
	// and clicks): how many went into one transaction, and how long the
	// first of them waited for it to start.
	BatchSize *prometheus.HistogramVec
	BatchWait *prometheus.HistogramVec
}

// New makes the collectors, with the pool's statistics of db and the
// outbox gauges read through depth (nil for none).
func New(db *sql.DB, depth OutboxReader, log *slog.Logger) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partli_http_requests_total", Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "partli_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route pattern and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "status"}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "partli_batch_size", Help: "Rows written per hot-path batch transaction, by kind (sale, click).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}, []string{"kind"}),
		BatchWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "partli_batch_wait_seconds", Help: "Time the first row of a hot-path batch waited before its transaction began, by kind.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}, []string{"kind"}),
	}
	m.Registry.MustRegister(m.Requests, m.Latency, m.BatchSize, m.BatchWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.Registry.MustRegister(collectors.NewDBStatsCollector(db, "partli"))
	}
	if depth != nil {
		m.Registry.MustRegister(&outboxCollector{read: depth, log: log})
	}
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, Timeout: 10 * time.Second})
}

// Observe records one answered request.
func (m *Metrics) Observe(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	s := statusText(status)
	m.Requests.WithLabelValues(route, method, s).Inc()
	m.Latency.WithLabelValues(route, s).Observe(d.Seconds())
}

// ObserveBatch records one hot-path batch of n rows of kind whose first
// row waited wait before the batch began.
func (m *Metrics) ObserveBatch(kind string, n int, wait time.Duration) {
	if m == nil {
		return
	}
	m.BatchSize.WithLabelValues(kind).Observe(float64(n))
	m.BatchWait.WithLabelValues(kind).Observe(wait.Seconds())
}

func statusText(s int) string {
	const digits = "0123456789"
	if s < 100 || s > 999 {
		return "other"
	}
	return string([]byte{digits[s/100], digits[s/10%10], digits[s%10]})
}

// Outbox is one outbox's state: rows waiting to be sent, how long the
// oldest has waited, and how far the oldest due row is behind (worker lag).
type Outbox struct {
	Name    string // webhook, mail
	Pending int64
	Oldest  time.Duration
	Lag     time.Duration
}

// OutboxReader reads the outboxes' state (store.OutboxDepths).
type OutboxReader func(ctx context.Context) ([]Outbox, error)

// outboxCollector reads the outboxes on each scrape, within a bound.
type outboxCollector struct {
	read OutboxReader
	log  *slog.Logger
}

var (
	outboxPending = prometheus.NewDesc("partli_outbox_pending", "Rows of an outbox waiting to be sent.", []string{"outbox"}, nil)
	outboxOldest  = prometheus.NewDesc("partli_outbox_oldest_seconds", "Age of the oldest row of an outbox waiting to be sent.", []string{"outbox"}, nil)
	outboxLag     = prometheus.NewDesc("partli_worker_lag_seconds", "How long the oldest row due to be sent has been due: how far the outbox's workers are behind.", []string{"outbox"}, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPending
	ch <- outboxOldest
	ch <- outboxLag
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	boxes, err := c.read(ctx)
	if err != nil {
		if c.log != nil {
			c.log.Warn("metrics: reading the outboxes", "err", err)
		}
		return
	}
	for _, b := range boxes {
		ch <- prometheus.MustNewConstMetric(outboxPending, prometheus.GaugeValue, float64(b.Pending), b.Name)
		ch <- prometheus.MustNewConstMetric(outboxOldest, prometheus.GaugeValue, b.Oldest.Seconds(), b.Name)
		ch <- prometheus.MustNewConstMetric(outboxLag, prometheus.GaugeValue, b.Lag.Seconds(), b.Name)
	}
}
