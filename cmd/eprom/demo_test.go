package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoSpeaksHemit: `eprom demo` prints a HEMIT key and a curl line
// that orders, and its built-in receiver shows the callbacks that follow.
func TestDemoSpeaksHemit(t *testing.T) {
	addr := freeAddrs(t, 1)[0]
	out, errs := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() { exited <- runDemo(ctx, []string{"-addr", addr}, out, errs) }()
	defer func() { cancel(); <-exited }()
	var key, form string
	for deadline := time.Now().Add(20 * time.Second); key == ""; time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`curl -H 'Authorization: Basic (demo-hemit-[a-z0-9]+)'[^\n]*\n[^\n]*"formId": "([0-9a-f-]+)"`).FindStringSubmatch(out.String()); m != nil {
			key, form = m[1], m[2]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HEMIT curl line:\n%s\n%s", out, errs)
		}
	}
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
