package main

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// startDemo runs `eprom demo` on a free loopback port until the test ends
// and returns its address and what it printed once it is up.
func startDemo(t *testing.T) (addr, printed string) {
	t.Helper()
	addr = freeAddrs(t, 1)[0]
	out, errs := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() { exited <- runDemo(ctx, []string{"-addr", addr}, out, errs) }()
	t.Cleanup(func() { cancel(); <-exited })
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "Press Ctrl+C"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not start:\n%s\n%s", out, errs)
		}
	}
	return addr, out.String()
}

// readQR reads a QR code off a picture with a real decoder.
func readQR(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// TestDemoSpeaksHemit: `eprom demo` prints a HEMIT key and a curl line
// that orders, and its built-in receiver shows the callbacks that follow.
func TestDemoSpeaksHemit(t *testing.T) {
	addr, text := startDemo(t)
	m := regexp.MustCompile(`curl -H 'Authorization: Basic (demo-hemit-[a-z0-9]+)'[^\n]*\n[^\n]*"formId": "([0-9a-f-]+)"`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no HEMIT curl line:\n%s", text)
	}
	key, form := m[1], m[2]
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v2/formorder",
		strings.NewReader(`{"formId": "`+form+`", "nationalId": "26073941651", "distributionRule": "NoDistribution"}`))
	req.Header.Set("Authorization", "Basic "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var order struct{ ID, SingleUseCode string }
	json.NewDecoder(resp.Body).Decode(&order)
	resp.Body.Close()
	if resp.StatusCode != 200 || order.ID == "" || order.SingleUseCode == "" {
		t.Fatalf("the demo's curl line: %d %+v", resp.StatusCode, order)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/demo/hemit")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Callbacks []struct {
				Signature string `json:"X-Eprom-Signature"`
				Body      struct{ FormOrderID, FormOrderStatus string }
			}
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if len(got.Callbacks) > 0 {
			c := got.Callbacks[0]
			if c.Body.FormOrderID != order.ID || c.Body.FormOrderStatus != "Ordered" || !strings.Contains(c.Signature, "..") {
				t.Errorf("the demo's receiver shows %+v", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no callback reached the demo's receiver")
		}
	}
}

func TestDemoPublicURL(t *testing.T) {
	lan := func() string { return "192.168.1.20" }
	none := func() string { return "" }
	for _, tt := range []struct {
		addr, given string
		lan         func() string
		want, err   string
	}{
		{"127.0.0.1:8080", "", lan, "http://localhost:8080", ""},
		{"[::1]:8080", "", lan, "http://localhost:8080", ""},
		{"0.0.0.0:8090", "", lan, "http://192.168.1.20:8090", ""},
		{":8090", "", lan, "http://192.168.1.20:8090", ""},
		{"[::]:8090", "", lan, "http://192.168.1.20:8090", ""},
		{"0.0.0.0:8090", "", none, "http://localhost:8090", ""},
		{"192.168.1.5:8080", "", lan, "http://192.168.1.5:8080", ""},
		{"0.0.0.0:8090", "https://eprom.example.no/", lan, "https://eprom.example.no", ""},
		{"0.0.0.0:8090", "eprom.example.no", lan, "", "-public-url"},
		{"8080", "", lan, "", "-addr"},
	} {
		got, err := demoPublicURL(tt.addr, tt.given, tt.lan)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("demoPublicURL(%q, %q) = %q, %v; want an error naming %s", tt.addr, tt.given, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("demoPublicURL(%q, %q) = %q, %v; want %q", tt.addr, tt.given, got, err, tt.want)
		}
	}
}

// TestDemoCodesAndQR: the demo orders every shipped form, prints a QR
// code of each link in the terminal that a real decoder reads back, and
// says how to get more codes.
func TestDemoCodesAndQR(t *testing.T) {
	addr, text := startDemo(t)
	_, port, _ := strings.Cut(addr, ":")
	for _, id := range []string{"kvarus-maalepunkt", "kvarus-erfaring", "dudit", "audit"} {
		m := regexp.MustCompile(`(?m)^  ` + id + `  ([0-9A-Z-]{11})  (http://localhost:` + port + `/c/[0-9A-Z-]{11})\n((?:  \x1b\[30;47m.*\x1b\[0m\n)+)`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("no QR code for %s in:\n%s", id, text)
			continue
		}
		if got := decodeTerminalQR(t, m[3]); got != m[2] {
			t.Errorf("the QR code of %s reads %q, want %q", id, got, m[2])
		}
		resp, err := browserClient().Get(strings.Replace(m[2], "localhost", "127.0.0.1", 1))
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s's link: %v %v", id, resp, err)
		} else {
			resp.Body.Close()
		}
	}
	if !strings.Contains(text, "More codes: order them on the clinic page, or curl -H 'Authorization: Bearer demo-") ||
		!strings.Contains(text, "eprom demo -addr 0.0.0.0:"+port) || !strings.Contains(text, "Clinic         http://localhost:"+port+"/demo/clinic") {
		t.Errorf("the demo does not say how to get more codes, or how to reach it from a phone:\n%s", text)
	}
	if strings.Contains(text, "http://0.0.0.0") {
		t.Error("a printed link names 0.0.0.0")
	}
}

// decodeTerminalQR reads a QR code printed with half blocks.
func decodeTerminalQR(t *testing.T, block string) string {
	t.Helper()
	var rows [][]bool
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
		line = strings.TrimSuffix(strings.TrimPrefix(line, "  \x1b[30;47m"), "\x1b[0m")
		var top, bottom []bool
		for _, r := range line {
			top = append(top, r == '█' || r == '▀')
			bottom = append(bottom, r == '█' || r == '▄')
		}
		rows = append(rows, top, bottom)
	}
	const scale = 8
	img := image.NewGray(image.Rect(0, 0, len(rows[0])*scale, len(rows)*scale))
	for y, row := range rows {
		for x, dark := range row {
			c := color.Gray{Y: 255}
			if dark {
				c = color.Gray{Y: 0}
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray(x*scale+dx, y*scale+dy, c)
				}
			}
		}
	}
	text, err := readQR(img)
	if err != nil {
		t.Fatalf("no QR code in the terminal's blocks: %v", err)
	}
	return text
}

// TestDemoClinicRefuses: the training page orders only from its own form,
// for its own patients and measuring points, and shows a patient only
// their own orders and results.
func TestDemoClinicRefuses(t *testing.T) {
	addr, _ := startDemo(t)
	base := "http://" + addr + "/demo/clinic"
	post := func(path, form string, header ...string) *http.Response {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := browserClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	good := "point=baseline&questionnaire=audit&language=en"
	resp := post("/demo-1001/orders", good)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/demo/clinic/demo-1001/orders/") {
		t.Fatalf("an order from the form: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	codePage := resp.Header.Get("Location")
	// A double click on the button (the form's own key): one order.
	first := post("/demo-1002/orders", good+"&attempt=3f9c2c1e").Header.Get("Location")
	if again := post("/demo-1002/orders", good+"&attempt=3f9c2c1e").Header.Get("Location"); first == "" || again != first {
		t.Errorf("a double click ordered twice: %s then %s", first, again)
	}
	for _, tt := range []struct {
		name, path, form string
		header           []string
		want             int
	}{
		{"from another site", "/demo-1001/orders", good, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"no such patient", "/demo-9999/orders", good, nil, http.StatusNotFound},
		{"no such measuring point", "/demo-1001/orders", "point=x&questionnaire=audit&language=en", nil, http.StatusUnprocessableEntity},
		{"no such questionnaire", "/demo-1001/orders", "point=baseline&questionnaire=nope&language=en", nil, http.StatusUnprocessableEntity},
		{"no such language", "/demo-1001/orders", "point=baseline&questionnaire=audit&language=sv", nil, http.StatusUnprocessableEntity},
	} {
		if resp := post(tt.path, tt.form, tt.header...); resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	for path, want := range map[string]int{
		strings.TrimPrefix(codePage, "/demo/clinic"):                                     http.StatusOK,
		strings.Replace(strings.TrimPrefix(codePage, "/demo/clinic"), "1001", "1002", 1): http.StatusNotFound, // another patient's order
		"/demo-1001/results/01900000-0000-7000-8000-000000000000":                        http.StatusNotFound,
		"/demo-9999": http.StatusNotFound,
	} {
		resp, err := browserClient().Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
