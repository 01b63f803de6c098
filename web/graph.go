package web

import (
	"cmp"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"eprom/questionnaire"
)

// changeGraph is one score across a patient's measuring points, drawn on
// the server as SVG: the score's bands as shaded stripes with their
// labels, a labelled value axis, a point per result (the current one
// larger) and a date under each. It is an image with a title and a
// description; the table beside it (changeView) holds the same figures
// for anyone who cannot see it. No script, no external file: it prints,
// and it is readable at 320 px.
type changeGraph struct {
	ID       string // unique on the page: names the title and description
	Title    string // the score's name
	Desc     string // the change in words, translated by the caller
	Lang     string // for numbers: a decimal comma in Norwegian
	Axis     string // the value axis's name, such as "Poeng"
	Min, Max float64
	Bands    []graphBand  // any order
	Points   []graphPoint // oldest first
}

// graphBand is a score band: a stripe with its label.
type graphBand struct {
	Min, Max float64
	Label    string
}

// graphPoint is one result. Value is nil when the score could not be
// worked out (too few answers): a date with no point.
type graphPoint struct {
	Tick    string // under the axis: a short date
	Value   *float64
	Current bool // the result just sent (the patient's), or the newest
}

// The graph's geometry, in the viewBox's units: about CSS pixels in a
// phone's column, so that its text stays readable at 320 px.
const (
	graphWidth  = 280
	graphLeft   = 36 // room for the value axis
	graphRight  = 12
	graphTop    = 24  // room for the axis's name
	graphHeight = 150 // of the plot
)

// SVG draws the graph.
func (g *changeGraph) SVG() template.HTML {
	lo, hi := g.Min, g.Max
	for _, p := range g.Points {
		if p.Value != nil {
			lo, hi = min(lo, *p.Value), max(hi, *p.Value)
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	rotate := len(g.Points) > 4 // dates side by side no longer fit
	bottom := 30
	if rotate {
		bottom = 52
	}
	height := graphTop + graphHeight + bottom
	plotW := float64(graphWidth - graphLeft - graphRight)
	y := func(v float64) float64 { return graphTop + graphHeight*(hi-v)/(hi-lo) }
	x := func(i int) float64 {
		if len(g.Points) == 1 {
			return graphLeft + plotW/2
		}
		return graphLeft + 16 + (plotW-32)*float64(i)/float64(len(g.Points)-1)
	}
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="change-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d">`,
		graphWidth, height, esc(g.ID), esc(g.ID))
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(g.ID), esc(g.Title), esc(g.ID), esc(g.Desc))

	// Bands: stripes, alternately shaded, each labelled at its top left.
	ticks := []float64{lo, hi}
	for i, band := range sortedBands(g.Bands) {
		top, bot := y(math.Min(band.Max, hi)), y(math.Max(band.Min, lo))
		if bot-top < 1 {
			continue
		}
		fill := [...]string{"#eef2f6", "#dde4ec", "#e6ebf1"}[i%3]
		fmt.Fprintf(&b, `<rect x="%d" y="%s" width="%s" height="%s" fill="%s"/>`, graphLeft, f1(top), f1(plotW), f1(bot-top), fill)
		if bot-top >= 12 {
			fmt.Fprintf(&b, `<text x="%d" y="%s" class="band" font-size="11" fill="#3b4651"%s>%s</text>`, graphLeft+4, f1(top+11), halo, esc(band.Label))
		}
		ticks = append(ticks, band.Min)
	}
	// The value axis: its name, the ends and where each band begins.
	if g.Axis != "" {
		fmt.Fprintf(&b, `<text x="2" y="12" font-size="11" fill="#1f2933">%s</text>`, esc(g.Axis))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#5b6670"/>`, graphLeft, graphTop, graphLeft, graphTop+graphHeight)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#5b6670"/>`, graphLeft, graphTop+graphHeight, graphWidth-graphRight, graphTop+graphHeight)
	drawn := []float64{}
	for _, t := range ticks {
		if t < lo || t > hi || nearAny(y(t), drawn, 10) {
			continue
		}
		drawn = append(drawn, y(t))
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="12" text-anchor="end" fill="#1f2933">%s</text>`, graphLeft-4, f1(y(t)+4), esc(number(g.Lang, t)))
	}
	// The line through the results there are, then the points, each with
	// its value, and the dates.
	var line []string
	for i, p := range g.Points {
		if p.Value != nil {
			line = append(line, f1(x(i))+","+f1(y(*p.Value)))
		}
	}
	if len(line) > 1 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#1d4e89" stroke-width="2"/>`, strings.Join(line, " "))
	}
	// With many points only the first and the current carry their
	// value; the table has them all.
	crowded := len(g.Points) > 6
	for i, p := range g.Points {
		px := x(i)
		if p.Value != nil {
			py := y(*p.Value)
			r, weight := 4, "normal"
			if p.Current {
				r, weight = 6, "bold"
			}
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="%d" fill="#1d4e89" stroke="#fff" stroke-width="1.5"/>`, f1(px), f1(py), r)
			if !crowded || i == 0 || p.Current {
				ly := py - 10
				if ly < graphTop+4 {
					ly = py + 20
				}
				fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="13" font-weight="%s" text-anchor="middle" fill="#102a43"%s>%s</text>`,
					f1(px), f1(ly), weight, halo, esc(number(g.Lang, *p.Value)))
			}
		} else {
			fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="12" text-anchor="middle" fill="#3b4651">–</text>`, f1(px), graphTop+graphHeight-6)
		}
		ty := graphTop + graphHeight + 16
		if rotate {
			fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="11" text-anchor="end" fill="#1f2933" transform="rotate(-40 %s %d)">%s</text>`,
				f1(px+4), ty, f1(px+4), ty, esc(p.Tick))
		} else {
			// A date under the first or last point stays inside the picture.
			tx, anchor, half := px, "middle", float64(len(p.Tick))*3.2
			switch {
			case px+half > graphWidth-1:
				tx, anchor = graphWidth-1, "end"
			case px-half < 1:
				tx, anchor = 1, "start"
			}
			fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="11" text-anchor="%s" fill="#1f2933">%s</text>`, f1(tx), ty, anchor, esc(p.Tick))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text in it is escaped above
}

// halo keeps a text readable where the line or a stripe runs under it.
const halo = ` paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"`

// sortedBands returns the bands from the lowest.
func sortedBands(bands []graphBand) []graphBand {
	return slices.SortedStableFunc(slices.Values(bands), func(a, b graphBand) int { return cmp.Compare(a.Min, b.Min) })
}

func nearAny(v float64, list []float64, d float64) bool {
	for _, w := range list {
		if math.Abs(v-w) < d {
			return true
		}
	}
	return false
}

// f1 writes a coordinate with at most one decimal.
func f1(v float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
}

// changeView is a score's change for a page: the graph, and the same
// figures as a table (the "change" template).
type changeView struct {
	Lang     string
	Title    string // the score's name: the heading and the table's caption
	Feedback string // what the patient reads of the current value (the done page)
	Graph    changeGraph
	Rows     []changeRow
}

type changeRow struct {
	Label, Date, Value, Band string
	Current                  bool
}

// scoreResult is one result of a score, for changeOf.
type scoreResult struct {
	At      time.Time // in the service's time zone
	Label   string    // the measuring point, or ""
	Value   *float64  // nil: too few answers to work it out
	Current bool
}

// changeOf builds the change of one score of def over results (oldest
// first), in lang; n numbers the graph on its page.
func (s *Server) changeOf(lang, orderLang string, def *questionnaire.Definition, sc *questionnaire.Score, results []scoreResult, n int) changeView {
	title := sc.Title.Get(lang, orderLang)
	if title == "" {
		title = sc.ID
	}
	cv := changeView{Lang: lang, Title: title}
	g := changeGraph{ID: "change-" + strconv.Itoa(n), Title: title, Lang: lang, Axis: s.T(lang, "change.axis")}
	g.Min, g.Max, _ = def.Range(sc)
	for _, b := range sc.Bands {
		g.Bands = append(g.Bands, graphBand{Min: b.Min, Max: b.Max, Label: b.Label.Get(lang, orderLang)})
	}
	var first, last *scoreResult
	count := 0
	for i := range results {
		r := &results[i]
		row := changeRow{Label: r.Label, Date: s.date(lang, r.At), Value: s.T(lang, "change.absent"), Current: r.Current}
		if r.Value != nil {
			row.Value = number(lang, *r.Value)
			if b := sc.Band(*r.Value); b != nil {
				row.Band = b.Label.Get(lang, orderLang)
			}
			if first == nil {
				first = r
			}
			last, count = r, count+1
		}
		cv.Rows = append(cv.Rows, row)
		g.Points = append(g.Points, graphPoint{Tick: shortDate(lang, r.At), Value: r.Value, Current: r.Current})
	}
	switch {
	case first == nil:
		g.Desc = s.T(lang, "change.desc_none")
	case first == last:
		g.Desc = s.T(lang, "change.desc_one", map[string]any{"Value": number(lang, *first.Value), "Date": s.date(lang, first.At)})
	default:
		g.Desc = s.T(lang, "change.desc", map[string]any{"From": number(lang, *first.Value), "FromDate": s.date(lang, first.At),
			"To": number(lang, *last.Value), "ToDate": s.date(lang, last.At), "Count": count})
	}
	cv.Graph = g
	return cv
}

// shortDate is a date under a graph's axis: 1.3.2026, or 2026-03-01 in
// English, where day and month could be read either way round.
func shortDate(lang string, d time.Time) string {
	if lang == "en" {
		return d.Format(time.DateOnly)
	}
	return d.Format("2.1.2006")
}
