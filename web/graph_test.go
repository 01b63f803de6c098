package web

import (
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write the golden SVG graphs in testdata/graph/")

func ptr(v float64) *float64 { return &v }

// TestChangeGraphGolden draws a few score histories and compares each with
// its golden file (go test ./web -run ChangeGraph -update writes them; look
// at them in a browser before committing).
func TestChangeGraphGolden(t *testing.T) {
	problems := []graphBand{{0, 7.99, "Lite plager"}, {8, 15.99, "Noen plager"}, {16, 24, "Mye plager"}}
	tests := []struct {
		name string
		g    changeGraph
	}{
		{"two-points", changeGraph{ID: "g1", Title: "Psykiske plager", Desc: "2 resultater, fra 17 til 6.", Lang: "nb", Axis: "Poeng", Min: 0, Max: 24,
			Bands: problems, Points: []graphPoint{{Tick: "1.3.2026", Value: ptr(17)}, {Tick: "2.12.2026", Value: ptr(6), Current: true}}}},
		{"one-point", changeGraph{ID: "g2", Title: "Experience of treatment", Desc: "One result: 3.75.", Lang: "en", Axis: "Score", Min: 1, Max: 5,
			Bands:  []graphBand{{1, 2.49, "A less good experience"}, {2.5, 3.49, "A fair experience"}, {3.5, 5, "A good experience"}},
			Points: []graphPoint{{Tick: "2026-12-02", Value: ptr(3.75), Current: true}}}},
		{"eleven-points-one-absent", changeGraph{ID: "g3", Title: "Psykiske plager", Desc: "10 resultater.", Lang: "nb", Axis: "Poeng", Min: 0, Max: 24,
			Bands: problems, Points: []graphPoint{
				{Tick: "1.1.2025", Value: ptr(22)}, {Tick: "1.2.2025", Value: ptr(20.5)}, {Tick: "1.3.2025", Value: ptr(18)},
				{Tick: "1.4.2025", Value: ptr(16)}, {Tick: "1.5.2025"}, {Tick: "1.6.2025", Value: ptr(12)},
				{Tick: "1.7.2025", Value: ptr(13)}, {Tick: "1.8.2025", Value: ptr(9)}, {Tick: "1.9.2025", Value: ptr(7)},
				{Tick: "1.10.2025", Value: ptr(24)}, {Tick: "2.12.2026", Value: ptr(0), Current: true}}}},
		{"no-bands", changeGraph{ID: "g4", Title: "Gjennomsnitt <&>", Desc: "A title that needs escaping.", Lang: "nb", Min: 0, Max: 4,
			Points: []graphPoint{{Tick: "1.3.2026", Value: ptr(2.5)}, {Tick: "1.6.2026", Value: ptr(1.17)}, {Tick: "2.12.2026", Current: true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.g.SVG())
			// Well-formed XML, every text escaped.
			dec := xml.NewDecoder(strings.NewReader(got))
			for {
				if _, err := dec.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("not well-formed: %v\n%s", err, got)
				}
			}
			file := filepath.Join("testdata", "graph", tt.name+".svg")
			if *update {
				os.MkdirAll(filepath.Dir(file), 0o755)
				if err := os.WriteFile(file, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./web -run ChangeGraph -update)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("%s differs from the drawing:\n%s", file, got)
			}
		})
	}
}

// TestChangeGraphScalesToTheValues keeps a value outside the axis given
// inside the drawing, and puts the current point last, larger.
func TestChangeGraphScalesToTheValues(t *testing.T) {
	g := changeGraph{ID: "g", Title: "T", Lang: "en", Min: 0, Max: 10,
		Points: []graphPoint{{Tick: "a", Value: ptr(-5)}, {Tick: "b", Value: ptr(30), Current: true}}}
	svg := string(g.SVG())
	for _, want := range []string{`>-5</text>`, `>30</text>`, `r="6"`, `r="4"`, `<polyline`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the graph lacks %s:\n%s", want, svg)
		}
	}
	if strings.Index(svg, `r="4"`) > strings.Index(svg, `r="6"`) {
		t.Error("the current point is not the last")
	}
}
