package web

import "testing"

func TestTelLinks(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Ring 116 117. Er det fare for liv, ring 113.", `Ring <a href="tel:116117" class="tel">116 117</a>. Er det fare for liv, ring <a href="tel:113" class="tel">113</a>.`},
		{"tlf. +47 22 11 22 33 (hverdager 0800–1530)", `tlf. <a href="tel:+4722112233" class="tel">+47 22 11 22 33</a> (hverdager 0800–1530)`},
		{"post123@klinikk.no /avd/4711 <b>", "post123@klinikk.no /avd/4711 &lt;b&gt;"},
	} {
		if got := string(telLinks(tt.in)); got != tt.want {
			t.Errorf("telLinks(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}
