package web

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DeliveryCounters are the push worker's totals, when there is one.
type DeliveryCounters interface {
	Totals() (attempts, delivered, failures, deadLetters int64)
	// Paused returns the destinations waiting out a backoff, and until when.
	Paused(now time.Time) map[string]time.Time
}

// Metrics are what /metrics shows, on a registry of their own.
type Metrics struct {
	reg          *prometheus.Registry
	orderEvents  *prometheus.CounterVec
	codeFailures prometheus.Counter
	rateLimited  *prometheus.CounterVec
	pageRender   *prometheus.HistogramVec
	requests     *prometheus.HistogramVec
	submissions  *prometheus.CounterVec
}

// newMetrics registers the service's metrics; the outbox's are read when
// scraped, at most once a second.
func newMetrics(outbox store.Queue, delivery DeliveryCounters) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		orderEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eprom_order_events_total",
			Help: "Orders moved to a status by this process: ordered, opened, in_progress, submitted, declined, cancelled, expired, delivered.",
		}, []string{"status"}),
		codeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eprom_code_failures_total", Help: "Codes entered that no order has.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eprom_code_rate_limited_total", Help: "Code entries held back: refused with 429 by the limit of the client's address (client) or the deployment's budget (global), or held until the budget had room and then let through (slowed).",
		}, []string{"limit"}),
		pageRender: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eprom_page_render_seconds", Help: "Time to render a patient page's HTML, by template.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05},
		}, []string{"page"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eprom_http_request_duration_seconds", Help: "Requests by route pattern, method and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route", "method", "code"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eprom_submissions_total", Help: "Envelopes enqueued by this process, by type.",
		}, []string{"type"}),
	}
	m.reg.MustRegister(m.orderEvents, m.codeFailures, m.rateLimited, m.pageRender, m.requests, m.submissions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var (
		mu      sync.Mutex
		stats   store.OutboxStats
		scraped time.Time
	)
	read := func() store.OutboxStats {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(scraped) > time.Second {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if st, err := outbox.Stats(ctx, time.Now()); err == nil {
				stats, scraped = st, time.Now()
			}
		}
		return stats
	}
	gauge := func(name, help string, f func(store.OutboxStats) float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(read()) }))
	}
	gauge("eprom_outbox_depth", "Envelopes waiting or leased.", func(s store.OutboxStats) float64 { return float64(s.Depth) })
	gauge("eprom_outbox_leased", "Envelopes leased now, by push or pull.", func(s store.OutboxStats) float64 { return float64(s.Leased) })
	gauge("eprom_outbox_dead_letters", "Envelopes in the dead-letter list.", func(s store.OutboxStats) float64 { return float64(s.Dead) })
	gauge("eprom_outbox_oldest_age_seconds", "Age of the oldest undelivered envelope.", func(s store.OutboxStats) float64 { return s.OldestAge.Seconds() })
	gauge("eprom_outbox_tombstones", "Delivered envelopes remembered (30 days).", func(s store.OutboxStats) float64 { return float64(s.Delivered) })
	m.reg.MustRegister(&byDestination{read: read, delivery: delivery})
	if delivery != nil {
		counter := func(name, help string, f func(a, d, fl, dl int64) int64) {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
				return float64(f(delivery.Totals()))
			}))
		}
		counter("eprom_delivery_attempts_total", "POSTs of envelopes to the registry.", func(a, _, _, _ int64) int64 { return a })
		counter("eprom_delivery_delivered_total", "Envelopes the registry took (2xx).", func(_, d, _, _ int64) int64 { return d })
		counter("eprom_delivery_failures_total", "Attempts that will be retried (5xx, 408, 425, 429, network).", func(_, _, f, _ int64) int64 { return f })
		counter("eprom_delivery_dead_letters_total", "Envelopes the registry refused for good.", func(_, _, _, dl int64) int64 { return dl })
	}
	return m
}

// handler serves GET /metrics.
func (m *Metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

func (m *Metrics) order(s questionnaire.Status) { m.orderEvents.WithLabelValues(string(s)).Inc() }

// Expired counts orders the sweeper closed as expired.
func (s *Server) Expired(n int) {
	s.metrics.orderEvents.WithLabelValues(string(questionnaire.StatusExpired)).Add(float64(n))
}

func (m *Metrics) request(route, method string, status int, d time.Duration) {
	// fiber's strings point into buffers it reuses: the labels keep copies.
	m.requests.WithLabelValues(strings.Clone(route), strings.Clone(method), strconv.Itoa(status/100)+"xx").Observe(d.Seconds())
}

// byDestination reports the outbox depth of each destination (client),
// and which destinations the push worker holds back after failures.
type byDestination struct {
	read     func() store.OutboxStats
	delivery DeliveryCounters
}

var (
	depthDesc = prometheus.NewDesc("eprom_outbox_depth_by_destination",
		"Envelopes waiting or leased, by destination (the client they are for).", []string{"destination"}, nil)
	pausedDesc = prometheus.NewDesc("eprom_delivery_paused_seconds",
		"Seconds until the push worker tries a destination again after failures; 0 when it is not held back.", []string{"destination"}, nil)
)

func (b *byDestination) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc; ch <- pausedDesc }

func (b *byDestination) Collect(ch chan<- prometheus.Metric) {
	st := b.read()
	for dest, n := range st.ByDestination {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n), dest)
	}
	if b.delivery == nil {
		return
	}
	now := time.Now()
	for dest, until := range b.delivery.Paused(now) {
		ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, until.Sub(now).Seconds(), dest)
	}
}
